import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Mailbox from "../src/internal/mailbox.js"

const closed = () => "closed" as const

describe("an instance's mailbox", () => {
  it.live("runs jobs one at a time, in the order they came", () =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make(closed)
      const log: Array<string> = []
      const job = (name: string) =>
        Effect.gen(function*() {
          log.push(`${name} start`)
          yield* Effect.sleep("5 millis")
          log.push(`${name} end`)
          return name
        })
      const results = yield* Effect.all(["a", "b", "c"].map((n) => mailbox.submit(job(n))), { concurrency: "unbounded" })
      expect(results).toEqual(["a", "b", "c"])
      expect(log).toEqual(["a start", "a end", "b start", "b end", "c start", "c end"])
      // A failing job is its caller's failure; the mailbox goes on.
      expect(yield* Effect.flip(mailbox.submit(Effect.fail("boom")))).toBe("boom")
      expect(yield* mailbox.submit(Effect.succeed(1))).toBe(1)
    }).pipe(Effect.scoped))

  it.live("when its scope closes, the running job and the queued ones fail as closed, and later ones at once", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const mailbox = yield* Scope.extend(Mailbox.make(closed), scope)
      let ranQueued = false
      const running = yield* Effect.fork(mailbox.submit(Effect.never))
      const queued = yield* Effect.fork(mailbox.submit(Effect.sync(() => {
        ranQueued = true
      })))
      yield* Effect.sleep("20 millis")
      yield* Scope.close(scope, Exit.void)
      expect(yield* Fiber.await(running)).toEqual(Exit.fail("closed"))
      expect(yield* Fiber.await(queued)).toEqual(Exit.fail("closed"))
      expect(ranQueued).toBe(false)
      expect(yield* Effect.flip(mailbox.submit(Effect.void))).toBe("closed")
    }))

  it.live("its fiber ends when idle, and the next job starts another", () =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make(closed, { idleMillis: 10 })
      for (let i = 0; i < 5; i++) {
        expect(yield* mailbox.submit(Effect.succeed(i))).toBe(i)
        yield* Effect.sleep(i % 2 === 0 ? "30 millis" : "1 millis")
      }
      const results = yield* Effect.all([1, 2, 3].map((n) => mailbox.submit(Effect.as(Effect.sleep("15 millis"), n))), { concurrency: "unbounded" })
      expect(results).toEqual([1, 2, 3])
    }).pipe(Effect.scoped))

  it.live("its fiber lives on while jobs come more often than its idle time, and ends only after a full idle time", () =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make(closed, { idleMillis: 150 })
      // Jobs run on the mailbox's fiber: its id tells whether the loop was restarted.
      const fibers = new Set<string>()
      const record = Effect.map(Effect.fiberId, (id) => {
        fibers.add(String(id))
      })
      // 16 jobs 25 ms apart: 400 ms in all, over two idle times, but never 150 ms without a job
      // (a wide margin, for a loaded machine's late timers).
      for (let i = 0; i < 16; i++) {
        yield* mailbox.submit(record)
        yield* Effect.sleep("25 millis")
      }
      expect(fibers.size).toBe(1)
      yield* Effect.sleep("400 millis")
      yield* mailbox.submit(record)
      expect(fibers.size).toBe(2)
    }).pipe(Effect.scoped))

  it.live("a claim holds the mailbox: only an idle one can be claimed, and jobs submitted meanwhile run after the release", () =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make(closed)
      expect(mailbox.tryClaim()).toBe(true)
      expect(mailbox.tryClaim()).toBe(false)
      const ran: Array<string> = []
      const waiting = yield* Effect.fork(mailbox.submit(Effect.sync(() => ran.push("queued"))))
      yield* Effect.sleep("30 millis")
      expect(ran).toEqual([])
      mailbox.release()
      expect(yield* Fiber.join(waiting)).toBe(1)
      // Busy with a job, or with one queued: no claim.
      const blocker = yield* Effect.fork(mailbox.submit(Effect.sleep("50 millis")))
      yield* Effect.sleep("10 millis")
      expect(mailbox.tryClaim()).toBe(false)
      yield* Fiber.join(blocker)
      expect(mailbox.tryClaim()).toBe(true)
      mailbox.release()
    }).pipe(Effect.scoped))

  it.live("a caller past its deadline or interrupted drops its job if it has not started", () =>
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make(closed)
      const ran: Array<string> = []
      const blocker = yield* Effect.fork(mailbox.submit(Effect.sleep("100 millis")))
      yield* Effect.sleep("5 millis")
      const late = yield* Effect.flip(mailbox.submit(Effect.sync(() => ran.push("late")), { millis: 20, onTimeout: () => "timeout" as const }))
      const interrupted = yield* Effect.fork(mailbox.submit(Effect.sync(() => ran.push("interrupted"))))
      yield* Effect.sleep("10 millis")
      yield* Fiber.interrupt(interrupted)
      yield* Fiber.join(blocker)
      expect(late).toBe("timeout")
      expect(yield* mailbox.submit(Effect.sync(() => ran.push("after")))).toBe(1)
      expect(ran).toEqual(["after"])
    }).pipe(Effect.scoped))
})
