import { describe, expect, it } from "@effect/vitest"
import * as PlainCodec from "../src/internal/plainCodec.js"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", {
  account: Schema.String,
  amount: Schema.Number,
  urgent: Schema.Boolean,
  currency: Schema.Literal("EUR", "USD")
}) {}
const Plain = Schema.Struct({ kind: Schema.Literal("note"), text: Schema.String, pages: Schema.Number })

const inputs: ReadonlyArray<unknown> = [
  { _tag: "Deposited", account: "a-1", amount: 5, urgent: false, currency: "EUR" },
  { _tag: "Deposited", account: "a-1", amount: 5, urgent: false, currency: "GBP" },
  { _tag: "Deposited", account: "a-1", amount: "5", urgent: false, currency: "EUR" },
  { _tag: "Deposited", account: "a-1", amount: 5, currency: "EUR" },
  { _tag: "Deposited", account: "a-1", amount: 5, urgent: false, currency: "EUR", extra: 1 },
  { _tag: "Deposited", account: "a-1", amount: 5, urgent: undefined, currency: "EUR" },
  { _tag: "Other", account: "a-1", amount: 5, urgent: true, currency: "USD" },
  { account: "a-1", amount: 5, urgent: true, currency: "USD" },
  { kind: "note", text: "t", pages: 2 },
  { kind: "note", text: "t", pages: 2, more: true },
  { kind: "note", text: 1, pages: 2 },
  { kind: "memo", text: "t", pages: 2 },
  null,
  [],
  "Deposited",
  Object.assign(Object.create({ inherited: 1 }), { kind: "note", text: "t", pages: 2 })
]

/** The codec agrees with Effect's own decoder on every input: same value, or a failure where it fails. */
const agrees = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const codec = PlainCodec.make(schema)
  const full = Schema.decodeUnknownEither(schema)
  for (const input of inputs) {
    const fast = codec.decode(input)
    const slow = full(input)
    expect(Either.isRight(fast), JSON.stringify(input)).toBe(Either.isRight(slow))
    if (Either.isRight(fast) && Either.isRight(slow)) expect(fast.right).toEqual(slow.right)
  }
}

describe("PlainCodec", () => {
  it("decodes a flat event class as the schema does, refusing what it refuses", () => agrees(Deposited))

  it("decodes a flat struct as the schema does", () => agrees(Plain))

  it("makes a class instance that does not share the input", () => {
    const input = { _tag: "Deposited", account: "a-1", amount: 5, urgent: false, currency: "EUR" }
    const decoded = Either.getOrThrow(PlainCodec.make(Deposited).decode(input))
    expect(decoded).toBeInstanceOf(Deposited)
    input.amount = 6
    expect(decoded.amount).toBe(5)
  })
})
