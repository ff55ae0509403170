import { describe, expect, it } from "@effect/vitest"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as StreamName from "@recount/core/StreamName"
import * as Either from "effect/Either"

describe("StreamName", () => {
  it("splits at the first dash: the category never has one, the id may", () => {
    expect(Either.getOrThrow(StreamName.parse("order-2026-11-22-7"))).toEqual({
      streamName: "order-2026-11-22-7",
      category: "order",
      id: "2026-11-22-7"
    })
    expect(Either.getOrThrow(StreamName.make("order", "a-b"))).toBe("order-a-b")
    expect(Either.isLeft(StreamName.make("or-der", "1"))).toBe(true)
  })

  it.each([["", "empty"], ["order", "no category"], ["-1", "no category"], ["order-", "no id"], ["order-\t1", "control"]])(
    "refuses %j (%s)",
    (value) => {
      const error = Either.getOrThrow(Either.flip(StreamName.parse(value)))
      expect(error._tag).toBe("InvalidStreamName")
      expect(error.value).toBe(value)
    }
  )
})

describe("ExpectedVersion", () => {
  it("matches versions as documented (0 means no events)", () => {
    expect(ExpectedVersion.matches(ExpectedVersion.any, 7)).toBe(true)
    expect(ExpectedVersion.matches(ExpectedVersion.noStream, 0)).toBe(true)
    expect(ExpectedVersion.matches(ExpectedVersion.noStream, 1)).toBe(false)
    expect(ExpectedVersion.matches(ExpectedVersion.streamExists, 0)).toBe(false)
    expect(ExpectedVersion.matches(ExpectedVersion.exact(3), 3)).toBe(true)
    expect(ExpectedVersion.matches(ExpectedVersion.exact(3), 4)).toBe(false)
    expect(ExpectedVersion.format(ExpectedVersion.exact(3))).toBe("3")
  })
})
