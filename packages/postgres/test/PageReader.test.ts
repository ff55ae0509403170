/**
 * The page reader builds positions and transaction ids from their `int8` text, short text through
 * a `number` (exact below 2^53) and long text directly: every value must be the text's own, on both
 * sides of the cut and past 2^53, where a `number` would round.
 */
import { describe, expect, it } from "@effect/vitest"
import { int8, makePageReader } from "../src/internal/rows.js"

const texts = [
  "0",
  "1",
  "42",
  "-42",
  "99999999999999",
  "999999999999999",
  "1000000000000000",
  "9007199254740991",
  "9007199254740993",
  "9223372036854775807",
  "-9223372036854775808"
]

describe("page reader", () => {
  it("int8 gives the bigint of its text", () => {
    for (const text of texts) expect(int8(text)).toBe(BigInt(text))
  })

  it("events carry exact positions and transaction ids, short or long", () => {
    const read = makePageReader()
    const row = (position: string, tx: string) =>
      [position, tx, "t", "s-1", "s", "1", "id", "E", 1, {}, {}, null, null, 0] as ReadonlyArray<unknown>
    for (const text of texts) {
      const event = read(row(text, text))
      expect(event.globalPosition).toBe(BigInt(text))
      expect(event.transactionId).toBe(BigInt(text))
    }
  })
})
