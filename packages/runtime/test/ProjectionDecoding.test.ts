/**
 * What a projector hands its handler: stored events decoded by the registry. The registry builds
 * instances of plain event classes without running Effect's class constructor (the projector's
 * main cost per event, see core's internal/plainCodec.ts); these tests pin that the objects are
 * the ones the full decoder makes, and that classes with constructors of their own still get them
 * run. (The codec is internal to core; it is tested here through the public registry.)
 */
import { describe, expect, it } from "@effect/vitest"
import * as EventRegistry from "@recount/core/EventRegistry"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as Schema from "effect/Schema"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", {
  account: Schema.String,
  amount: Schema.Number,
  urgent: Schema.Boolean,
  currency: Schema.Literal("EUR", "USD")
}) {
  get label() {
    return `${this.amount} ${this.currency}`
  }
}

class Noted extends Schema.TaggedClass<Noted>()("Noted", {
  text: Schema.String,
  tags: Schema.Array(Schema.String),
  by: Schema.optional(Schema.String)
}) {}

/** A field initializer: only the constructor sets `source`. */
class Initialized extends Schema.TaggedClass<Initialized>()("Initialized", { n: Schema.Number }) {
  readonly source = "constructor"
}

let constructed = 0
/** A constructor with an effect: it must run for every decoded event. */
class Counted extends Schema.TaggedClass<Counted>()("Counted", { n: Schema.Number }) {
  constructor(props: { readonly n: number }, options?: boolean) {
    super(props, options)
    constructed++
  }
}

const registry = EventRegistry.make([Deposited, Noted, Initialized, Counted])

const stored = (type: string, data: unknown, i = 0): EventRegistry.StoredEvent => ({ eventId: `e${i}`, type, schemaVersion: 1, data })

/** The full decoder's answer for a stored event: Effect's decoder on the data with its tag. */
const reference = (schema: Schema.Schema<any, any, never>, data: unknown) =>
  Schema.decodeUnknownEither(schema)(data !== null && typeof data === "object" && !Array.isArray(data) ? { ...data, _tag: (schema as { _tag?: string })._tag } : data)

/** Same class, same own properties in the same order, same values. */
const expectSameObject = (actual: unknown, expected: unknown) => {
  expect(Object.getPrototypeOf(actual)).toBe(Object.getPrototypeOf(expected))
  expect(Reflect.ownKeys(actual as object)).toEqual(Reflect.ownKeys(expected as object))
  expect(actual).toEqual(expected)
}

const depositInputs: ReadonlyArray<unknown> = [
  { account: "a-1", amount: 5, urgent: false, currency: "EUR" },
  { currency: "USD", urgent: true, amount: -1.5, account: "" },
  { account: "a-1", amount: 5, urgent: false, currency: "GBP" },
  { account: "a-1", amount: "5", urgent: false, currency: "EUR" },
  { account: "a-1", amount: 5, currency: "EUR" },
  { account: "a-1", amount: 5, urgent: false, currency: "EUR", extra: 1 },
  { account: "a-1", amount: 5, urgent: undefined, currency: "EUR" },
  { _tag: "Deposited", account: "a-1", amount: 5, urgent: false, currency: "EUR" },
  { _tag: "Other", account: "a-1", amount: 5, urgent: false, currency: "EUR" },
  Object.assign(Object.create({ inherited: 1 }), { account: "a-1", amount: 5, urgent: false, currency: "EUR" }),
  Object.defineProperty({ amount: 5, urgent: false, currency: "EUR" }, "account", { value: "hidden", enumerable: false }),
  null,
  [],
  "Deposited"
]

describe("Projection event decoding", () => {
  it("decodes stored data to the objects Effect's decoder makes, and refuses what it refuses", () => {
    // Twice over: the first instance of a class is also made the constructor's way.
    for (const round of [0, 1]) {
      depositInputs.forEach((data, i) => {
        const fast = registry.decodeEither(stored("Deposited", data, i))
        const full = reference(Deposited, data)
        expect(Either.isRight(fast), `round ${round}: ${JSON.stringify(data)}`).toBe(Either.isRight(full))
        if (Either.isRight(fast) && Either.isRight(full)) {
          expectSameObject(fast.right, full.right)
          // Structural equality too (fields are scalars here; Effect compares arrays by reference).
          expect(Equal.equals(fast.right, full.right)).toBe(true)
          expect(fast.right).toBeInstanceOf(Deposited)
          expect((fast.right as Deposited).label).toBe((full.right as Deposited).label)
        }
      })
    }
  })

  it("keeps nested values and leaves an absent optional field absent", () => {
    for (const data of [{ text: "t", tags: ["a", "b"] }, { text: "t", tags: [], by: "ada" }, { text: "t", tags: [1] }]) {
      for (const _ of [0, 1]) {
        const fast = registry.decodeEither(stored("Noted", data))
        const full = reference(Noted, data)
        expect(Either.isRight(fast)).toBe(Either.isRight(full))
        if (Either.isRight(fast) && Either.isRight(full)) expectSameObject(fast.right, full.right)
      }
    }
    const decoded = Either.getOrThrow(registry.decodeEither(stored("Noted", { text: "t", tags: ["a"] })))
    expect(Object.hasOwn(decoded, "by")).toBe(false)
  })

  it("does not share the stored data with the event", () => {
    const data = { account: "a-1", amount: 5, urgent: false, currency: "EUR" }
    const decoded = Either.getOrThrow(registry.decodeEither(stored("Deposited", data)))
    data.amount = 6
    expect((decoded as Deposited).amount).toBe(5)
  })

  it("runs the constructor of a class with a field initializer or a constructor of its own, for every event", () => {
    for (let i = 0; i < 3; i++) {
      const decoded = Either.getOrThrow(registry.decodeEither(stored("Initialized", { n: i })))
      expect(decoded).toBeInstanceOf(Initialized)
      expect((decoded as Initialized).source).toBe("constructor")
      expectSameObject(decoded, Either.getOrThrow(reference(Initialized, { n: i })))
    }
    const before = constructed
    for (let i = 0; i < 5; i++) {
      expect(Either.getOrThrow(registry.decodeEither(stored("Counted", { n: i })))).toBeInstanceOf(Counted)
    }
    expect(constructed - before).toBe(5)
  })
})
