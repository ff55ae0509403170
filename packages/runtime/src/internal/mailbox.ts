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
  /**
   * Takes the mailbox for a job that runs outside it (a command that needs no fiber): only when
   * it is open, no job runs and none waits. Jobs submitted meanwhile wait for `release`.
   */
  readonly tryClaim: () => boolean
  readonly release: () => void
}

/**
 * A submitted job and its caller. A class: its methods are shared, where closures per command
 * cost an allocation each (and, under tsx, a `defineProperty` to name them).
 */
class Job<Closed> {
  state: "queued" | "running" | "dropped" = "queued"
  finished = false
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  constructor(
    readonly run: Effect.Effect<unknown, unknown>,
    readonly resume: (effect: Effect.Effect<unknown, unknown>) => void,
    readonly closed: () => Closed
  ) {}
  /** The job ended (or the mailbox closed under it): answers the caller, once. */
  done(exit: Exit.Exit<unknown, unknown>) {
    if (this.finished) return
    this.finished = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.resume(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? Effect.fail(this.closed()) : exit)
  }
  /** The caller's deadline passed: a job that has not started is dropped. */
  expire(error: unknown) {
    if (this.finished) return
    this.finished = true
    if (this.state === "queued") this.state = "dropped"
    this.resume(Effect.fail(error))
  }
  /** The caller was interrupted. */
  cancel() {
    this.finished = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.state === "queued") this.state = "dropped"
  }
}

/**
 * A mailbox that lives as long as the scope. When the scope closes, queued jobs fail with
 * `closed()` and the running one is interrupted and fails with it too: the instance is gone
 * (passivated, or its shard moved), and a retry reaches its next incarnation.
 */
export const make = <Closed>(closed: () => Closed, options?: { readonly idleMillis?: number }): Effect.Effect<Mailbox<Closed>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const idleMillis = options?.idleMillis ?? 5_000
    const fork = Runtime.runFork(yield* Effect.runtime<never>())
    const jobs: Array<Job<Closed>> = []
    // The loop's fiber while it runs; it ends after `idleMillis` without a job, so that the many
    // idle instances of a node keep no fiber (a few kilobytes each).
    let fiber: Fiber.RuntimeFiber<void> | undefined
    // The loop's wait for a job, while it waits.
    let waiting: ((effect: Effect.Effect<boolean>) => void) | undefined
    let open = true
    let running: Job<Closed> | undefined
    // Held by a job that runs outside the loop (`tryClaim`).
    let claimed = false
    // One timer per mailbox, armed when it first goes idle and re-armed only when it fires: a
    // timer set and cleared per command showed in the command path's profile.
    let idleSince = 0
    let idleTimer: ReturnType<typeof setTimeout> | undefined

    const checkIdle = () => {
      idleTimer = undefined
      if (waiting === undefined) return
      const left = idleSince + idleMillis - Date.now()
      if (left > 0) return armIdleTimer(left)
      // Decided here, synchronously: the next submit starts a new loop.
      const resume = waiting
      waiting = undefined
      fiber = undefined
      resume(Effect.succeed(false))
    }
    const armIdleTimer = (millis: number) => {
      idleTimer = setTimeout(checkIdle, millis)
      // An idle mailbox must not keep the process alive.
      idleTimer.unref()
    }

    const next: Effect.Effect<boolean> = Effect.suspend(() => {
      // While a claimed job runs outside, the loop waits; `release` wakes it.
      const job = claimed ? undefined : jobs.shift()
      if (job === undefined) {
        return Effect.async<boolean>((resume) => {
          waiting = resume
          idleSince = Date.now()
          if (idleTimer === undefined) armIdleTimer(idleMillis)
        })
      }
      if (job.state !== "queued") return Effect.succeed(true)
      job.state = "running"
      running = job
      // The job's own failure is its caller's; the loop goes on. An interruption skips this
      // (the loop is only interrupted when the scope closes): the finalizer answers that job.
      return Effect.map(Effect.exit(job.run), (exit) => {
        running = undefined
        job.done(exit)
        return true
      })
    })
    // Not `Effect.forever`: it yields to the scheduler on every turn.
    const loop: Effect.Effect<void> = Effect.flatMap(next, (goOn) => goOn ? loop : Effect.void)
    const startNext = () => {
      if (waiting !== undefined) {
        const w = waiting
        waiting = undefined
        w(Effect.succeed(true))
      } else if (fiber === undefined) {
        fiber = fork(loop)
      }
    }

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        open = false
        if (idleTimer !== undefined) clearTimeout(idleTimer)
        idleTimer = undefined
        waiting = undefined
        for (const job of jobs.splice(0)) {
          if (job.state === "queued") job.done(Exit.interrupt(FiberId.none))
        }
        const loopFiber = fiber
        fiber = undefined
        const interrupted = running
        running = undefined
        return loopFiber === undefined ? Effect.void : Effect.map(Fiber.interrupt(loopFiber), () => {
          interrupted?.done(Exit.interrupt(FiberId.none))
        })
      })
    )

    const submit = <A, E, E2 = never>(run: Effect.Effect<A, E>, deadline?: Deadline<E2>) =>
      Effect.async<A, E | E2 | Closed>((resume) => {
        if (!open) return resume(Effect.fail(closed()))
        const job = new Job(run, resume as (effect: Effect.Effect<unknown, unknown>) => void, closed)
        jobs.push(job)
        if (!claimed) startNext()
        if (deadline !== undefined) {
          job.timer = setTimeout(() => job.expire(deadline.onTimeout()), deadline.millis)
          job.timer.unref()
        }
        return Effect.sync(() => job.cancel())
      })

    const tryClaim = () => {
      if (!open || claimed || running !== undefined || jobs.length > 0) return false
      claimed = true
      return true
    }
    const release = () => {
      claimed = false
      if (open && jobs.length > 0) startNext()
    }

    return { submit, tryClaim, release }
  })
