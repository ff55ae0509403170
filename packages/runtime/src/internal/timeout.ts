import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as HashSet from "effect/HashSet"

/** Marks the interruptions this module's timers cause. */
const timerId = FiberId.make(-1, 0)

/**
 * `Effect.timeoutFail` for the command path: one fiber and one Node timer instead of a race of
 * two fibers, a sleep and a merge of the winner's fiber refs, which cost about a third of a
 * command's CPU here. The effect runs in a child fiber that a timer interrupts at the deadline;
 * interrupting the caller interrupts the child too.
 */
export const withTimeout = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  millis: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.fork(restore(effect)), (fiber) => {
      const timer = setTimeout(() => fiber.unsafeInterruptAsFork(timerId), millis)
      return Effect.flatMap(
        Effect.onInterrupt(restore(Fiber.await(fiber)), () => Effect.zipRight(Effect.sync(() => clearTimeout(timer)), Fiber.interrupt(fiber))),
        (exit): Effect.Effect<A, E | E2> => {
          clearTimeout(timer)
          if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) && HashSet.has(Cause.interruptors(exit.cause), timerId)) {
            return Effect.fail(onTimeout())
          }
          return exit
        }
      )
    })
  )
