import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { withTimeout } from "../src/internal/timeout.js"

// The cluster path's command timeout (a direct hand-over keeps its deadline in the mailbox).
describe("withTimeout", () => {
  it.live("answers with the effect's own result or failure before the deadline", () =>
    Effect.gen(function*() {
      expect(yield* withTimeout(Effect.as(Effect.sleep("5 millis"), 1), 500, () => "timeout" as const)).toBe(1)
      expect(yield* Effect.flip(withTimeout(Effect.fail("boom" as const), 500, () => "timeout" as const))).toBe("boom")
    }))

  it.live("at the deadline interrupts the effect and fails with onTimeout", () =>
    Effect.gen(function*() {
      let interrupted = false
      const slow = Effect.onInterrupt(Effect.never, () => Effect.sync(() => {
        interrupted = true
      }))
      expect(yield* Effect.flip(withTimeout(slow, 30, () => "timeout" as const))).toBe("timeout")
      expect(interrupted).toBe(true)
    }))

  it.live("an interrupted caller interrupts the effect too, and gets no timeout", () =>
    Effect.gen(function*() {
      let interrupted = false
      const slow = Effect.onInterrupt(Effect.never, () => Effect.sync(() => {
        interrupted = true
      }))
      const caller = yield* Effect.fork(withTimeout(slow, 10_000, () => "timeout" as const))
      yield* Effect.sleep("20 millis")
      const exit = yield* Fiber.interrupt(caller)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(interrupted).toBe(true)
    }))
})
