import { expect, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount, Deposit, Deposited, Open, Withdraw } from "@recount/testing/TestAggregates"
import * as Duration from "effect/Duration"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { CommandBus } from "../src/CommandBus.js"
import * as RecountMetrics from "../src/RecountMetrics.js"
import * as RecountNode from "../src/RecountNode.js"

// The bus hands commands to instances awake on its node without the cluster's message path;
// the cluster still delivers the others (persisted ones, first commands, other nodes').

let inFlight = 0
let mostAtOnce = 0
/** Counts how many decisions overlap; the pause gives an overlap the time to happen. */
const Watched = {
  ...BankAccount,
  name: "watched",
  decide: (state: Parameters<typeof BankAccount.decide>[0], command: Parameters<typeof BankAccount.decide>[1]) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        inFlight++
        mostAtOnce = Math.max(mostAtOnce, inFlight)
      }),
      () => Effect.zipRight(Effect.sleep("2 millis"), BankAccount.decide(state, command)),
      () => Effect.sync(() => inFlight--)
    )
}

/** Deposits of 1000 take a second to decide. */
const Slow = {
  ...BankAccount,
  name: "slow-direct",
  decide: (state: Parameters<typeof BankAccount.decide>[0], command: Parameters<typeof BankAccount.decide>[1]) =>
    Effect.zipRight(command._tag === "Deposit" && command.amount === 1000 ? Effect.sleep("1 second") : Effect.void, BankAccount.decide(state, command))
}

// The cluster's reaper does not honour idle timeouts under about 5 s.
const Idler = { ...BankAccount, name: "busy-idler", idleTimeout: Duration.seconds(5) }

/** Decides with plain exits, so its direct commands run without a fiber of the instance's. */
const Plain = { ...BankAccount, name: "plain-direct" }

/** A decider with a bug: it throws on deposits of 13. */
const Throwing = {
  ...BankAccount,
  name: "throwing-direct",
  decide: (state: Parameters<typeof BankAccount.decide>[0], command: Parameters<typeof BankAccount.decide>[1]) => {
    if (command._tag === "Deposit" && command.amount === 13) throw new Error("a bug in decide")
    return BankAccount.decide(state, command)
  }
}

/** Counts its decisions of withdrawals. */
let withdrawalsDecided = 0
const Counting = {
  ...BankAccount,
  name: "counting-direct",
  decide: (state: Parameters<typeof BankAccount.decide>[0], command: Parameters<typeof BankAccount.decide>[1]) => {
    if (command._tag === "Withdraw") withdrawalsDecided++
    return BankAccount.decide(state, command)
  }
}

const Live = RecountNode.layerSingle({ aggregates: [Watched, Idler, Slow, Plain, Throwing, Counting] }).pipe(
  Layer.provideMerge(TestDatabase.layerStores())
)

layer(Live, { excludeTestServices: true, timeout: 60_000 })("direct delivery on the owning node", (it) => {
  it.effect("commands handed over directly and through the cluster still run one at a time", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      yield* bus.dispatch(Watched, "w1", new Open({ owner: "Ada" }))
      // Persisted commands always travel through the cluster's mailbox; volatile ones from this
      // node go straight to the awake instance.
      const results = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i + 1), (amount) =>
        bus.dispatch(Watched, "w1", new Deposit({ amount }), { delivery: amount % 4 === 0 ? "persisted" : "volatile" }), { concurrency: "unbounded" })
      expect(mostAtOnce).toBe(1)
      expect(results.map((r) => r.streamVersion).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 2))
      expect(yield* bus.getState(Watched, "w1")).toMatchObject({ version: 41, state: { balance: (40 * 41) / 2 } })
    }))

  it.effect("a timed-out command that had not started never runs; one that had started completes once", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      yield* bus.dispatch(Slow, "s1", new Open({ owner: "Ada" }))
      const [running, queued] = yield* Effect.all([
        Effect.flip(bus.dispatch(Slow, "s1", new Deposit({ amount: 1000 }), { commandId: "slow-1", timeout: "300 millis" })),
        Effect.zipRight(Effect.sleep("50 millis"), Effect.flip(bus.dispatch(Slow, "s1", new Deposit({ amount: 5 }), { commandId: "queued-1", timeout: "300 millis" })))
      ], { concurrency: "unbounded" })
      expect(running).toMatchObject({ _tag: "CommandTimeout", commandId: "slow-1", timeoutMillis: 300 })
      expect(queued).toMatchObject({ _tag: "CommandTimeout", commandId: "queued-1" })
      yield* Effect.sleep("1 second")
      // The started one finished behind its caller's back; the queued one was dropped.
      expect(yield* bus.getState(Slow, "s1")).toMatchObject({ version: 2, state: { balance: 1000 } })
      const retried = yield* bus.dispatch(Slow, "s1", new Deposit({ amount: 1000 }), { commandId: "slow-1" })
      expect(retried).toMatchObject({ alreadyApplied: true, streamVersion: 2 })
      expect((yield* bus.getState(Slow, "s1")).version).toBe(2)
    }))

  it.effect("a command that needs no fiber answers at its deadline while its append waits, completes once, and holds the instance meanwhile", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const sql = yield* SqlClient.SqlClient
      yield* bus.dispatch(Plain, "p1", new Open({ owner: "Ada" }))
      yield* bus.dispatch(Plain, "p1", new Deposit({ amount: 1 }))
      // A transaction holding the stream's row makes the next append wait until it ends.
      const locked = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(sql.withTransaction(Effect.gen(function*() {
        yield* sql`SELECT version FROM recount_streams WHERE tenant = 'default' AND stream_name = 'plain-direct-p1' FOR UPDATE`
        yield* Deferred.succeed(locked, undefined)
        yield* Effect.sleep("1 second")
      })))
      yield* Deferred.await(locked)
      const [stalled, behind] = yield* Effect.all([
        Effect.flip(bus.dispatch(Plain, "p1", new Deposit({ amount: 7 }), { commandId: "stalled-1", timeout: "300 millis" })),
        Effect.zipRight(Effect.sleep("50 millis"), bus.dispatch(Plain, "p1", new Deposit({ amount: 100 }), { commandId: "behind-1", timeout: "5 seconds" }))
      ], { concurrency: "unbounded" })
      expect(stalled).toMatchObject({ _tag: "CommandTimeout", commandId: "stalled-1", timeoutMillis: 300 })
      // The second waited for the first, which had started: one at a time, in order.
      expect(behind).toMatchObject({ streamVersion: 4, alreadyApplied: false })
      yield* Fiber.join(holder)
      expect(yield* bus.getState(Plain, "p1")).toMatchObject({ version: 4, state: { balance: 108 } })
      const retried = yield* bus.dispatch(Plain, "p1", new Deposit({ amount: 7 }), { commandId: "stalled-1" })
      expect(retried).toMatchObject({ alreadyApplied: true, streamVersion: 3 })
    }))

  it.effect("commands that need no fiber are counted by outcome and timed, as the others are", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const counted = (outcome: RecountMetrics.CommandOutcome) =>
        Effect.map(Metric.value(RecountMetrics.labelled(RecountMetrics.commands, { aggregate: Plain.name, outcome })), (s) => s.count)
      const timed = Effect.map(Metric.value(RecountMetrics.labelled(RecountMetrics.commandDuration, { aggregate: Plain.name })), (s) => s.count)
      yield* bus.dispatch(Plain, "m1", new Open({ owner: "Ada" }))
      const before = yield* Effect.all([counted("ok"), counted("already_applied"), counted("rejected"), timed])
      yield* bus.dispatch(Plain, "m1", new Deposit({ amount: 5 }), { commandId: "metered-1" })
      yield* bus.dispatch(Plain, "m1", new Deposit({ amount: 5 }), { commandId: "metered-1" }) // a retry
      yield* Effect.flip(bus.dispatch(Plain, "m1", new Withdraw({ amount: 500 })))
      const after = yield* Effect.all([counted("ok"), counted("already_applied"), counted("rejected"), timed])
      expect(after.map((n, i) => n - before[i]!)).toEqual([1, 1, 1, 3])
    }))

  it.effect("a refused command is decided once without a fiber, then once in the mailbox (which checks its state is current), not again", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      yield* bus.dispatch(Counting, "c1", new Open({ owner: "Ada" }))
      yield* bus.dispatch(Counting, "c1", new Deposit({ amount: 1 }))
      withdrawalsDecided = 0
      expect(yield* Effect.flip(bus.dispatch(Counting, "c1", new Withdraw({ amount: 500 })))).toMatchObject({ _tag: "InsufficientFunds" })
      expect(withdrawalsDecided).toBe(2)
    }))

  it.effect("a decider that throws fails its command as unavailable and leaves the instance free for the next", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      yield* bus.dispatch(Throwing, "t1", new Open({ owner: "Ada" }))
      yield* bus.dispatch(Throwing, "t1", new Deposit({ amount: 1 }))
      const failed = yield* Effect.flip(bus.dispatch(Throwing, "t1", new Deposit({ amount: 13 }), { timeout: "2 seconds" }))
      expect(failed).toMatchObject({ _tag: "AggregateUnavailable" })
      expect(yield* bus.dispatch(Throwing, "t1", new Deposit({ amount: 2 }), { timeout: "2 seconds" })).toMatchObject({ streamVersion: 3 })
    }))

  it.effect("an instance kept busy from this node is not passivated", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const store = yield* EventStore
      yield* bus.dispatch(Idler, "b1", new Open({ owner: "Ada" }))
      // Behind the live instance's back: only a rebuilt instance can know about it.
      yield* store.append("busy-idler-b1", [yield* Idler.events.toEventData(new Deposited({ amount: 7 }))])
      // Reads every 250 ms for more than twice the idle timeout: the instance is never idle, so
      // it must still be the one that missed the deposit.
      const deadline = Date.now() + 12_000
      const versions = new Set<number>()
      while (Date.now() < deadline) {
        versions.add((yield* bus.getState(Idler, "b1")).version)
        yield* Effect.sleep("250 millis")
      }
      expect([...versions]).toEqual([1])
      // Left alone, it is passivated and rebuilt with the deposit.
      yield* Effect.sleep("11 seconds")
      expect(yield* bus.getState(Idler, "b1")).toMatchObject({ version: 2, state: { balance: 7 } })
    }), { timeout: 40_000 })
})
