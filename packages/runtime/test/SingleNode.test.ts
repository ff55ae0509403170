import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import { SnapshotStore } from "@recount/core/SnapshotStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import {
  BankAccount,
  CloseAccount,
  Deposit,
  Deposited,
  InsufficientFunds,
  Open,
  Order,
  Withdraw
} from "@recount/testing/TestAggregates"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as AggregateHistory from "../src/AggregateHistory.js"
import { CommandBus } from "../src/CommandBus.js"
import * as RecountNode from "../src/RecountNode.js"
import { fresh } from "@recount/testing/TestIds"


const Live = RecountNode.layerSingle({ aggregates: [BankAccount, Order] }).pipe(Layer.provideMerge(TestDatabase.layerStores()))

layer(Live, { excludeTestServices: true, timeout: 120_000 })("aggregates on one node", (it) => {
  it.effect("dispatches commands, replies with version, position and events, and keeps state", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("a")
      const opened = yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      expect(opened).toMatchObject({ aggregate: "account", aggregateId: id, streamVersion: 1, alreadyApplied: false })
      expect(opened.events).toMatchObject([{ type: "Opened", streamVersion: 1, data: { owner: "Ada" } }])
      const deposited = yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 30 }))
      expect(deposited.streamVersion).toBe(2)
      expect(deposited.globalPosition > opened.globalPosition).toBe(true)
      const refused = yield* Effect.flip(bus.dispatch(BankAccount, id, new Withdraw({ amount: 31 })))
      expect(refused).toEqual(new InsufficientFunds({ balance: 30, requested: 31 }))
      const view = yield* bus.getState(BankAccount, id)
      expect(view).toEqual({ version: 2, state: { status: "open", owner: "Ada", balance: 30 } })
      const store = yield* EventStore
      expect(yield* store.streamVersion(`account-${id}`)).toBe(2)
    }))

  it.effect("a command that decides nothing is recorded and appends nothing", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("noop")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      yield* bus.dispatch(BankAccount, id, new CloseAccount())
      const again = yield* bus.dispatch(BankAccount, id, new CloseAccount(), { commandId: `close-again-${id}` })
      expect(again).toMatchObject({ streamVersion: 2, events: [], alreadyApplied: false })
      const store = yield* EventStore
      expect(Option.isSome(yield* store.findCommand(`close-again-${id}`))).toBe(true)
    }))

  it.effect("a retried command id returns the original result, even when today's state would refuse it", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("idem")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 100 }))
      const first = yield* bus.dispatch(BankAccount, id, new Withdraw({ amount: 100 }), { commandId: `w-${id}` })
      const retry = yield* bus.dispatch(BankAccount, id, new Withdraw({ amount: 100 }), { commandId: `w-${id}` })
      expect(retry).toEqual({ ...first, alreadyApplied: true })
      const store = yield* EventStore
      expect(yield* store.streamVersion(`account-${id}`)).toBe(3)
      expect((yield* bus.getState(BankAccount, id)).state).toMatchObject({ balance: 0 })
    }))

  it.effect("persisted delivery: stored in the cluster's tables first, exactly-once by command id too", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const sql = yield* PgClient.PgClient
      const id = fresh("pers")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }), { delivery: "persisted" })
      const first = yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 5 }), { delivery: "persisted", commandId: `p-${id}` })
      const again = yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 5 }), { delivery: "persisted", commandId: `p-${id}` })
      expect(again.streamVersion).toBe(first.streamVersion)
      expect(again.events).toEqual(first.events)
      expect((yield* bus.getState(BankAccount, id)).state).toMatchObject({ balance: 5 })
      const stored = yield* sql.unsafe<{ n: string }>(
        "SELECT count(*) AS n FROM cluster_messages WHERE entity_id = $1 AND tag = 'ExecutePersisted'",
        [`default/${id}`]
      )
      expect(Number(stored[0]!.n)).toBe(2)
    }))

  it.effect("many clients on one hot aggregate: handled one at a time, no conflict surfaces", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("hot")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      const results = yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => i + 1), (amount) =>
        bus.dispatch(BankAccount, id, new Deposit({ amount })), { concurrency: "unbounded" })
      expect(results.map((r) => r.streamVersion).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 2))
      const view = yield* bus.getState(BankAccount, id)
      expect(view).toMatchObject({ version: 61, state: { balance: (60 * 61) / 2 } })
    }))

  it.effect("a writer outside the instance makes it reload and decide again, never diverge", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const store = yield* EventStore
      const id = fresh("race")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      // Another writer (a stale twin during a failover, say) appends behind the instance's back.
      yield* store.append(`account-${id}`, [yield* BankAccount.events.toEventData(new Deposited({ amount: 7 }))])
      const result = yield* bus.dispatch(BankAccount, id, new Withdraw({ amount: 7 }))
      expect(result.streamVersion).toBe(3)
      expect((yield* bus.getState(BankAccount, id)).state).toMatchObject({ balance: 0 })
    }))

  it.effect("bad input is a typed error naming the problem; nothing is stored", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const store = yield* EventStore
      const bad = yield* Effect.flip(bus.dispatchUnknown("account", "x1", { _tag: "Deposit", amount: -5 }))
      expect(bad).toMatchObject({ _tag: "InvalidCommand", aggregate: "account" })
      expect((bad as { detail: string }).detail).toContain("amount")
      expect(yield* Effect.flip(bus.dispatchUnknown("nope", "x1", {}))).toMatchObject({ _tag: "InvalidCommand", aggregate: "nope" })
      expect(yield* Effect.flip(bus.dispatchUnknown("account", "x1", { _tag: "Explode" }))).toMatchObject({ _tag: "InvalidCommand" })
      expect(yield* Effect.flip(bus.dispatch(BankAccount, "", new Open({ owner: "A" })))).toMatchObject({ _tag: "InvalidCommand" })
      expect(yield* Effect.flip(bus.dispatch(BankAccount, "x", new Open({ owner: "A" }), { tenant: "a/b" }))).toMatchObject({ _tag: "InvalidCommand" })
      expect(yield* store.streamVersion("account-x1")).toBe(0)
      const ok = yield* bus.dispatchUnknown("order", fresh("o"), { _tag: "PlaceOrder", customerId: "c", lines: [{ sku: "s", quantity: 1, price: 2 }] })
      expect(ok.events[0]).toMatchObject({ type: "OrderPlaced", data: { total: 2 } })
    }))

  it.effect("tenants have separate instances and streams", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("t")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "A" }), { tenant: "acme" })
      yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 5 }), { tenant: "acme" })
      expect(yield* Effect.flip(bus.dispatch(BankAccount, id, new Deposit({ amount: 5 }), { tenant: "globex" })))
        .toMatchObject({ _tag: "AccountNotOpen" })
      const store = yield* EventStore
      expect(yield* store.streamVersion(`account-${id}`, { tenant: "acme" })).toBe(2)
      expect(yield* store.streamVersion(`account-${id}`, { tenant: "globex" })).toBe(0)
    }))

  it.effect("snapshots: waking from snapshot plus tail equals folding the whole stream; bad snapshots are ignored", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const snapshots = yield* SnapshotStore
      const id = fresh("snap")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      for (let i = 1; i <= 104; i++) yield* bus.dispatch(BankAccount, id, new Deposit({ amount: i }))
      // The snapshot is written off the reply's path; give it a moment.
      yield* Effect.sleep("200 millis")
      const full = yield* AggregateHistory.stateAt(BankAccount, id, { useSnapshot: false })
      const fromSnapshot = yield* AggregateHistory.stateAt(BankAccount, id)
      expect(fromSnapshot.fromSnapshot).toBe(100)
      expect(full.fromSnapshot).toBeUndefined()
      expect(fromSnapshot.state).toEqual(full.state)
      expect(fromSnapshot.version).toBe(105)
      const expected = { status: "open", owner: "Ada", balance: (104 * 105) / 2 }
      expect(full.state).toEqual(expected)

      const stream = `account-${id}`
      const ignoredWith = (snapshot: { version: number; schemaVersion: number; state: unknown }) =>
        Effect.gen(function*() {
          yield* snapshots.save({ streamName: stream, ...snapshot })
          const loaded = yield* AggregateHistory.stateAt(BankAccount, id)
          expect(loaded.fromSnapshot).toBeUndefined()
          expect(loaded.state).toEqual(expected)
        })
      yield* ignoredWith({ version: 101, schemaVersion: 1, state: { status: "open", owner: 42 } }) // does not decode
      yield* ignoredWith({ version: 102, schemaVersion: 2, state: { ...expected, balance: -1 } }) // another schema version
      yield* ignoredWith({ version: 999, schemaVersion: 1, state: { ...expected, balance: -1 } }) // ahead of the stream
    }))

  it.effect("state as of a version and a time, and the history with timestamps", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("hist")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 10 }))
      yield* Effect.sleep("50 millis")
      const between = new Date()
      yield* Effect.sleep("50 millis")
      yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 5 }))
      expect((yield* AggregateHistory.stateAt(BankAccount, id, { version: 2 })).state).toMatchObject({ balance: 10 })
      expect((yield* AggregateHistory.stateAt(BankAccount, id, { time: between })).state).toMatchObject({ balance: 10 })
      expect((yield* AggregateHistory.stateAt(BankAccount, id)).state).toMatchObject({ balance: 15 })
      const history = Chunk.toReadonlyArray(yield* Stream.runCollect(AggregateHistory.history(BankAccount, id)))
      expect(history.map((h) => [h.version, h.event._tag])).toEqual([[1, "Opened"], [2, "Deposited"], [3, "Deposited"]])
      expect(history[2]!.recordedAt.getTime()).toBeGreaterThanOrEqual(between.getTime())
    }))
})

