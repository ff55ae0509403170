import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import type { Outcome } from "./outcome.js"

/**
 * Sends the commands that a client's callers dispatch while others are on their way in one call
 * per event-loop turn (`DispatchBatch`) instead of one call each.
 *
 * The RPC library's own work per call is about as much CPU as a command's on each end (a fiber
 * per request on each side and one per message received, the request's and the reply's schemas,
 * a WebSocket frame each way): with 32 callers on one connection it cost more than the command
 * itself. The replies of a busy connection arrive many per turn, the callers they wake dispatch
 * their next commands in that same turn, and those now travel as one call, decoded, handled and
 * answered once; each command still runs, and fails, on its own.
 *
 * A caller with nothing else in flight on the client calls at once on its own (a lone caller
 * waits for nothing). A queued caller that is interrupted before its batch leaves is dropped
 * from it; once sent, its command runs to its end as a departing `Dispatch` caller's would.
 */
export interface Options<P, A, E, EB> {
  /** One command's call. */
  readonly one: (payload: P) => Effect.Effect<A, E>
  /** Several commands' call: each one's outcome, in their order, or an error for all. */
  readonly many: (payloads: ReadonlyArray<P>) => Effect.Effect<ReadonlyArray<Outcome<A, E>>, EB>
  /** Most commands in one call. */
  readonly max: number
  /** Where the calls run: not in any caller's fiber, so that no caller's interruption stops another's. */
  readonly runtime: Runtime.Runtime<never>
}

interface Queued<P, A, E> {
  readonly payload: P
  readonly resume: (exit: Exit.Exit<A, E>) => void
  dropped: boolean
}

/** A dispatch that joins the current turn's batch when others are in flight. */
export const make = <P, A, E, EB>(options: Options<P, A, E, EB>): (payload: P) => Effect.Effect<A, E | EB> => {
  const run = Runtime.runFork(options.runtime)
  let inFlight = 0
  let queue: Array<Queued<P, A, E | EB>> = []
  let scheduled = false
  const done = Effect.sync(() => {
    inFlight--
  })

  const send = (batch: ReadonlyArray<Queued<P, A, E | EB>>) => {
    if (batch.length === 1) {
      const only = batch[0]!
      run(options.one(only.payload)).addObserver(only.resume)
      return
    }
    run(options.many(batch.map((queued) => queued.payload))).addObserver((exit) => {
      if (exit._tag === "Failure") {
        const failed = Exit.failCause(exit.cause)
        for (const queued of batch) queued.resume(failed)
      } else if (exit.value.length !== batch.length) {
        const wrong = Exit.die(new Error(`DispatchBatch answered ${exit.value.length} outcomes for ${batch.length} commands`))
        for (const queued of batch) queued.resume(wrong)
      } else {
        for (let i = 0; i < batch.length; i++) {
          const outcome = exit.value[i]!
          batch[i]!.resume(outcome._tag === "Right" ? Exit.succeed(outcome.right) : Exit.fail(outcome.left))
        }
      }
    })
  }

  const flush = () => {
    scheduled = false
    const live = queue.filter((queued) => !queued.dropped)
    queue = []
    for (let from = 0; from < live.length; from += options.max) send(live.slice(from, from + options.max))
  }

  const queued = (payload: P) =>
    Effect.async<A, E | EB>((resume) => {
      const entry: Queued<P, A, E | EB> = { payload, resume, dropped: false }
      queue.push(entry)
      if (!scheduled) {
        scheduled = true
        // The check phase: after the turn's callbacks, so that every caller the turn woke is in.
        setImmediate(flush)
      }
      return Effect.sync(() => {
        entry.dropped = true
      })
    })

  return (payload) =>
    Effect.suspend(() => {
      const alone = inFlight === 0
      inFlight++
      return Effect.ensuring(alone ? options.one(payload) : queued(payload), done)
    })
}
