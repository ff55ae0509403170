/**
 * Waiting in tests for something that happens in the background (a projection catching up, a
 * workflow finishing): retry a read until a condition holds.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/**
 * Retries `effect` every 50 ms until `ok` holds of its result, and returns that result. After
 * `timeoutMillis` it dies with the last result, so a failing test shows what it saw.
 *
 * @since 0.1.0
 */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, ok: (a: A) => boolean, timeoutMillis = 30_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    while (true) {
      const value = yield* effect
      if (ok(value)) return value
      if (Date.now() > deadline) {
        return yield* Effect.dieMessage(
          `not reached within ${timeoutMillis} ms; last: ${JSON.stringify(value, (_, v) => typeof v === "bigint" ? String(v) : v)}`
        )
      }
      yield* Effect.sleep("50 millis")
    }
  })
