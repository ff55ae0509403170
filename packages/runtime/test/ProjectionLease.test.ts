import { expect, layer } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount } from "@recount/testing/TestAggregates"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { ProjectorHooks, run } from "../src/internal/projector.js"
import * as Projection from "../src/Projection.js"
import { eventually, fresh } from "./support/balances.js"

/**
 * The same projection as two instances would run it: each records which instance applied an
 * event. Each test uses its own name, stream category and table.
 */
const writers = (name: string, instance: string) =>
  Projection.make({
    name,
    events: BankAccount.events,
    categories: [name],
    tables: [`${name}_applied`],
    migrations: {
      "0001_create": (target) =>
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE TABLE ${target.table(`${name}_applied`)} (event_id uuid NOT NULL, instance text NOT NULL)`))
    },
    handle: (_event, envelope, target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql.unsafe(`INSERT INTO ${target.table(`${name}_applied`)} (event_id, instance) VALUES ($1, $2)`, [envelope.eventId, instance]))
  })

const start = (name: string, instance: string, hooks: ProjectorHooks["Type"] = {}) =>
  run(writers(name, instance), {
    owner: instance,
    leaseTimeout: Duration.seconds(1),
    pollInterval: Duration.millis(100),
    onProgress: () => {},
    onLease: () => {}
  }).pipe(Effect.provideService(ProjectorHooks, hooks), Effect.forkScoped)

const appendDeposits = (category: string, count: number) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
      store.append(`${category}-${fresh("w")}`, [{ type: "Deposited", data: { amount: i + 1 } }]), { discard: true }))

const applied = (name: string) =>
  Effect.flatMap(PgClient.PgClient, (sql) =>
    sql.unsafe<{ event_id: string; instance: string }>(`SELECT event_id::text AS event_id, instance FROM ${name}_applied`)).pipe(
      // Until the runner that holds the lease has run its migration, there is no table yet.
      Effect.catchTag("SqlError", () => Effect.succeed([]))
    )

layer(TestDatabase.layerStores(), { excludeTestServices: true, timeout: 120_000 })("one writer per projection", (it) => {
  it.scoped("two instances started together: only one of them writes", () =>
    Effect.gen(function*() {
      yield* start("race", "A")
      yield* start("race", "B")
      yield* appendDeposits("race", 200)
      yield* eventually(applied("race"), (rows) => rows.length >= 200)
      yield* Effect.sleep("500 millis")
      const final = yield* applied("race")
      expect(final.length).toBe(200)
      expect(new Set(final.map((r) => r.event_id)).size).toBe(200)
      expect(new Set(final.map((r) => r.instance)).size).toBe(1)
    }))

  it.scoped("a paused instance that wakes after another took its lease cannot write", () =>
    Effect.gen(function*() {
      const paused = { value: false }
      const wake = yield* Deferred.make<void>()
      const reachedPause = yield* Deferred.make<void>()
      yield* start("stale", "A", {
        beforeTransaction: () =>
          paused.value ? Effect.zipRight(Deferred.succeed(reachedPause, undefined), Deferred.await(wake)) : Effect.void
      })
      yield* appendDeposits("stale", 10)
      yield* eventually(applied("stale"), (rows) => rows.length === 10)

      // A reads the next batch and stops (a GC pause, a frozen VM) before its transaction.
      paused.value = true
      yield* appendDeposits("stale", 10)
      yield* Deferred.await(reachedPause)
      // B starts; A shows no life for longer than the lease, so B takes over and applies the batch.
      yield* start("stale", "B")
      const taken = yield* eventually(applied("stale"), (rows) => rows.length === 20)
      expect(taken.filter((r) => r.instance === "B").length).toBe(10)

      // A wakes with the batch it read: its transaction sees another epoch and writes nothing.
      yield* Deferred.succeed(wake, undefined)
      yield* Effect.sleep("1500 millis")
      yield* appendDeposits("stale", 5)
      const final = yield* eventually(applied("stale"), (rows) => rows.length >= 25)
      yield* Effect.sleep("500 millis")
      const settled = yield* applied("stale")
      expect(settled.length).toBe(25)
      expect(new Set(settled.map((r) => r.event_id)).size).toBe(25)
      expect(settled.filter((r) => r.instance === "A").length).toBe(10)
      expect(final.length).toBe(25)
    }))
})
