import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * A change counter that readers wait on. A reader notes the count before it reads; if anything
 * signals after that, its wait returns at once, so a notification that arrives while the reader is
 * busy is never lost.
 */
export interface Wakeup {
  readonly count: () => number
  readonly signal: () => void
  readonly awaitChange: (seen: number, timeout: Duration.DurationInput) => Effect.Effect<void>
}

export const make = (): Wakeup => {
  let count = 0
  let waiters = new Set<() => void>()
  return {
    count: () => count,
    signal: () => {
      count++
      const ready = waiters
      waiters = new Set()
      for (const wake of ready) wake()
    },
    awaitChange: (seen, timeout) =>
      Effect.suspend(() =>
        count !== seen
          ? Effect.void
          : Effect.async<void>((resume) => {
            const wake = () => resume(Effect.void)
            waiters.add(wake)
            return Effect.sync(() => waiters.delete(wake))
          }).pipe(Effect.timeoutOption(timeout), Effect.asVoid)
      )
  }
}
