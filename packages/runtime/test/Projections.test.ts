import { expect, layer } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ProjectorHooks } from "../src/internal/projector.js"
import * as Projection from "../src/Projection.js"
import { layerLocal, Projections } from "../src/Projections.js"
import { appendAccounts, caughtUp, eventually, foldBalances, fresh, makeBalances, readLog, readRows } from "./support/balances.js"

const fast = { leaseTimeout: "2 seconds", pollInterval: "100 millis" } as const

const expectReadModelEqualsLog = Effect.gen(function*() {
  yield* caughtUp()
  expect(yield* readRows()).toEqual(foldBalances(yield* readLog))
})

layer(layerLocal([makeBalances()], fast).pipe(Layer.provideMerge(TestDatabase.layerStores())), { excludeTestServices: true, timeout: 120_000 })("projections (PostgreSQL)", (it) => {
  it.effect("the read model's migrations run at start and a view serves the active version", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      // The runner takes its lease, then migrates: wait for the record.
      const migrations = yield* eventually(
        sql.unsafe<{ version: number; migration: string }>("SELECT version, migration FROM recount_projection_migrations WHERE projection = 'balances'"),
        (rows) => rows.length > 0
      )
      expect(migrations).toEqual([{ version: 1, migration: "0001_create_table" }])
      yield* caughtUp()
      // The view comes right after the migrations.
      const [view] = yield* eventually(
        sql.unsafe<{ definition: string }>("SELECT pg_get_viewdef(to_regclass('balances')) AS definition"),
        (rows) => rows[0]?.definition != null
      )
      expect(view!.definition).toContain("balances_v1")
    }))

  it.effect("a live projection equals a fold of the log, and a rebuild from scratch equals it row for row", () =>
    Effect.gen(function*() {
      yield* appendAccounts(120)
      yield* expectReadModelEqualsLog
      const live = yield* readRows()
      expect(live.length).toBeGreaterThan(100)

      const projections = yield* Projections
      expect(yield* projections.rebuild("balances")).toBe(2)
      const [swapped] = yield* eventually(projections.status(["balances"]), ([s]) => s!.version === 2 && s!.rebuild === null)
      expect(swapped!.lastError).toBeNull()
      expect(yield* readRows()).toEqual(live)
      const sql = yield* PgClient.PgClient
      const tables = yield* sql.unsafe<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'balances%' AND table_type = 'BASE TABLE'"
      )
      expect(tables.map((t) => t.table_name)).toEqual(["balances_v2"])
    }))

  it.scoped("the skipped-event scenario end to end: an event that commits late with a lower position is applied", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const store = yield* EventStore
      yield* appendAccounts(3)
      yield* caughtUp()
      const slowId = fresh("slow")
      yield* store.append(`account-${slowId}`, [{ type: "Opened", data: { owner: "slow" } }])
      yield* caughtUp()
      const conn = yield* sql.reserve
      yield* conn.executeRaw("BEGIN", [])
      const [slow] = yield* conn.executeValues(
        `SELECT global_position FROM recount_append('default', $1, 'account', -1,
           jsonb_build_array(jsonb_build_object('i', gen_random_uuid(), 't', 'Deposited', 'v', 1, 'd', '{"amount": 5}'::jsonb, 'm', '{}'::jsonb)), NULL)`,
        [`account-${slowId}`]
      )
      const fastOne = yield* store.append(`account-${fresh("fast")}`, [{ type: "Opened", data: { owner: "fast" } }])
      expect(fastOne.globalPosition > BigInt(slow![0] as string)).toBe(true)
      // The projection must not move past the open transaction's event.
      yield* Effect.sleep("500 millis")
      const projections = yield* Projections
      const [during] = yield* projections.status(["balances"])
      expect(during!.checkpoint.position < fastOne.globalPosition).toBe(true)
      yield* conn.executeRaw("COMMIT", [])
      yield* expectReadModelEqualsLog
      const rows = yield* readRows()
      expect(rows.find((r) => r.account === slowId)).toMatchObject({ balance: 5, events: 2 })
    }))

  it.effect("pause stops applying and resume goes on from the checkpoint", () =>
    Effect.gen(function*() {
      const projections = yield* Projections
      yield* caughtUp()
      yield* projections.pause("balances")
      yield* eventually(projections.status(["balances"]), ([s]) => s!.state === "paused")
      yield* Effect.sleep("300 millis")
      yield* appendAccounts(5)
      yield* Effect.sleep("500 millis")
      const [paused] = yield* projections.status(["balances"])
      expect(paused!.state).toBe("paused")
      expect(paused!.lagEvents).toBeGreaterThan(0)
      yield* projections.resume("balances")
      yield* expectReadModelEqualsLog
    }))

  it.effect("events of other kinds move the checkpoint without being applied", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const projections = yield* Projections
      const [before] = yield* caughtUp()
      const other = yield* store.append(`audit-${fresh("x")}`, [{ type: "Noted", data: {} }, { type: "Noted", data: {} }])
      const [after] = yield* eventually(projections.status(["balances"]), ([s]) => s!.checkpoint.position >= other.globalPosition, 10_000)
      expect(after!.eventsApplied).toBe(before!.eventsApplied)
    }))

  it.effect("operations name what was wrong", () =>
    Effect.gen(function*() {
      const projections = yield* Projections
      const unknown = yield* Effect.flip(projections.pause("nope"))
      expect(unknown).toMatchObject({ _tag: "UnknownProjection", projection: "nope", known: ["balances"] })
      const missing = yield* Effect.flip(projections.deadLetters.retry("balances", "not-a-uuid"))
      expect(missing).toMatchObject({ _tag: "DeadLetterNotFound", eventId: "not-a-uuid" })
      expect(() => Projection.make({ name: "bad name!", events: BankAccount.events, handle: () => Effect.void })).toThrow(/projection name/)
      expect(() => makeBalances("ok", "Bad-Table")).toThrow(/table name/)
    }))
})

// Crashes ---------------------------------------------------------------------------------------

const crashes = { beforeApply: 0, beforeCheckpoint: 0, beforeCommit: 0 }
const crashOnce = (point: keyof typeof crashes, afterBatches: number) => {
  let batches = 0
  return () =>
    Effect.suspend(() => {
      batches++
      if (batches === afterBatches && crashes[point] === 0) {
        crashes[point]++
        return Effect.dieMessage(`injected crash ${point}`)
      }
      return Effect.void
    })
}

const CrashingLive = layerLocal([{ ...makeBalances(), batchSize: 50 }], fast).pipe(
  Layer.provide(Layer.succeed(ProjectorHooks, {
    beforeApply: crashOnce("beforeApply", 2),
    beforeCheckpoint: crashOnce("beforeCheckpoint", 4),
    beforeCommit: crashOnce("beforeCommit", 6)
  })),
  Layer.provideMerge(TestDatabase.layerStores())
)

layer(CrashingLive, { excludeTestServices: true, timeout: 120_000 })("projections under injected crashes", (it) => {
  it.effect("a crash before the write, between the write and the checkpoint, and before commit: nothing lost, nothing applied twice", () =>
    Effect.gen(function*() {
      yield* appendAccounts(100)
      yield* eventually(Effect.succeed(crashes), (c) => c.beforeApply + c.beforeCheckpoint + c.beforeCommit === 3)
      yield* expectReadModelEqualsLog
      const sql = yield* PgClient.PgClient
      const [row] = yield* sql.unsafe<{ events_applied: string; total: string }>(
        "SELECT events_applied::text, (SELECT count(*) FROM recount_events WHERE category = 'account')::text AS total FROM recount_projections WHERE name = 'balances'"
      )
      expect(row!.events_applied).toBe(row!.total)
    }))
})
