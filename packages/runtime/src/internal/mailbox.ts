import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"

/** What a caller may give up after: the job is dropped if it has not started by then. */
export interface Deadline<E> {
  readonly millis: number
  readonly onTimeout: () => E
}

/**
 * An instance's mailbox: one fiber runs the submitted jobs one at a time, in order.
 *
 * A caller waits with a Node timer rather than a race of fibers: a fork per command (as
 * `Effect.timeout` does) cost about as much CPU as the rest of the command path together here.
 * A caller that gives up (its deadline passed, or it was interrupted) drops its job if the job has
 * not started; a job that has started runs to its end, so a command's outcome is then unknown to
 * that caller, and a retry with the same command id returns it.
 */
export interface Mailbox<Closed> {
  readonly submit: <A, E, E2 = never>(
    job: Effect.Effect<A, E>,
    deadline?: Deadline<E2> | undefined
  ) => Effect.Effect<A, E | E2 | Closed>
}

interface Job {
  readonly run: Effect.Effect<unknown, unknown>
  state: "queued" | "running" | "dropped"
  readonly done: (exit: Exit.Exit<unknown, unknown>) => void
}

/**
 * A mailbox that lives as long as the scope. When the scope closes, queued jobs fail with
 * `closed()` and the running one is interrupted and fails with it too: the instance is gone
 * (passivated, or its shard moved), and a retry reaches its next incarnation.
 */
export const make = <Closed>(closed: () => Closed, options?: { readonly idleMillis?: number }): Effect.Effect<Mailbox<Closed>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const idleMillis = options?.idleMillis ?? 5_000
    const runtime = yield* Effect.runtime<never>()
    const jobs: Array<Job> = []
    // The loop's fiber while it runs; it ends after `idleMillis` without a job, so that the many
    // idle instances of a node keep no fiber (a few kilobytes each).
    let fiber: Fiber.RuntimeFiber<void> | undefined
    let wake: (() => void) | undefined
    let open = true

    const next: Effect.Effect<boolean> = Effect.suspend(() => {
      const job = jobs.shift()
      if (job === undefined) {
        return Effect.async<boolean>((resume) => {
          const timer = setTimeout(() => {
            // Decided here, synchronously: the next submit starts a new loop.
            wake = undefined
            fiber = undefined
            resume(Effect.succeed(false))
          }, idleMillis)
          wake = () => {
            clearTimeout(timer)
            resume(Effect.succeed(true))
          }
          // An idle mailbox must not keep the process alive, nor its timer outlive the instance.
          timer.unref()
          return Effect.sync(() => clearTimeout(timer))
        })
      }
      if (job.state !== "queued") return Effect.succeed(true)
      job.state = "running"
      // The job's own failure is its caller's; the loop goes on.
      return Effect.as(Effect.catchAllCause(Effect.onExit(job.run, (exit) => Effect.sync(() => job.done(exit))), () => Effect.void), true)
    })
    // Not `Effect.forever`: it yields to the scheduler on every turn.
    const loop: Effect.Effect<void> = Effect.flatMap(next, (goOn) => goOn ? loop : Effect.void)
    const start = () => {
      fiber = Runtime.runFork(runtime)(loop)
    }

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        open = false
        for (const job of jobs.splice(0)) {
          if (job.state === "queued") job.done(Exit.interrupt(FiberId.none))
        }
        const running = fiber
        fiber = undefined
        return running === undefined ? Effect.void : Fiber.interrupt(running)
      })
    )

    const submit = <A, E, E2 = never>(run: Effect.Effect<A, E>, deadline?: Deadline<E2>) =>
      Effect.async<A, E | E2 | Closed>((resume) => {
        if (!open) return resume(Effect.fail(closed()))
        let finished = false
        let timer: ReturnType<typeof setTimeout> | undefined
        const job: Job = {
          run,
          state: "queued",
          done: (exit) => {
            if (finished) return
            finished = true
            if (timer !== undefined) clearTimeout(timer)
            resume(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? Effect.fail(closed()) : exit as Exit.Exit<A, E>)
          }
        }
        jobs.push(job)
        if (wake !== undefined) {
          const w = wake
          wake = undefined
          w()
        } else if (fiber === undefined) {
          start()
        }
        if (deadline !== undefined) {
          timer = setTimeout(() => {
            if (finished) return
            finished = true
            if (job.state === "queued") job.state = "dropped"
            resume(Effect.fail(deadline.onTimeout()))
          }, deadline.millis)
          timer.unref()
        }
        return Effect.sync(() => {
          finished = true
          if (timer !== undefined) clearTimeout(timer)
          if (job.state === "queued") job.state = "dropped"
        })
      })

    return { submit }
  })
