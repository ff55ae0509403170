import { describe, expect, it, layer } from "@effect/vitest"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import { EventStore } from "@recount/core/EventStore"
import type { ReadError } from "@recount/core/EventStoreError"
import { SnapshotStore } from "@recount/core/SnapshotStore"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Database from "../src/Database.js"
import * as PgPoolModule from "../src/PgPool.js"
import { PgPool } from "../src/PgPool.js"

// One connection, so the statements prepared by the appends are visible to the check's session.
const prepared = Effect.flatMap(PgPool, (pool) =>
  Effect.promise(() => pool.query<{ name: string }>("SELECT name FROM pg_prepared_statements ORDER BY name"))).pipe(
    Effect.map((result) => result.rows.map((row) => row.name))
  )

const appends = Effect.gen(function*() {
  const store = yield* EventStore
  // An event id already stored is answered by a second statement; the pool replaces a connection
  // after a statement fails, so this comes first and the appends below share one connection.
  const eventId = "6f0c3c1e-8a0b-4f4e-9d55-3d1f8f3b2a10"
  const once = yield* store.append("named-2", [{ eventId, type: "Deposited", data: {} }])
  const again = yield* store.append("named-2", [{ eventId, type: "Deposited", data: {} }])
  expect(again).toEqual({ ...once, alreadyApplied: true })
  const first = yield* store.append("named-1", [{ type: "Deposited", data: { n: 1 } }], { expectedVersion: ExpectedVersion.noStream, commandId: "c-1" })
  const second = yield* store.append("named-1", [{ type: "Deposited", data: { n: 2 } }], { expectedVersion: ExpectedVersion.exact(1) })
  // The other outcomes of the same statement: a wrong version, a retried command.
  const wrong = yield* Effect.flip(store.append("named-1", [{ type: "Deposited", data: {} }], { expectedVersion: ExpectedVersion.exact(0) }))
  const retried = yield* store.append("named-1", [{ type: "Deposited", data: { n: 1 } }], { expectedVersion: ExpectedVersion.noStream, commandId: "c-1" })
  expect([first.streamVersion, second.streamVersion, wrong._tag, retried.alreadyApplied, retried.streamVersion]).toEqual([1, 2, "WrongExpectedVersion", true, 1])
})

type ReadPages = (
  streamName: string,
  options: { readonly tenant: string; readonly fromVersion: number },
  onPage: (events: ReadonlyArray<RecordedEvent>) => boolean
) => Effect.Effect<void, ReadError>

// What a wake-up reads: the snapshot, then the stream's pages (the runtime's `readPages`).
const wakeReads = Effect.gen(function*() {
  const store = yield* EventStore
  const snapshots = yield* SnapshotStore
  yield* snapshots.save({ streamName: "named-1", version: 1, schemaVersion: 1, state: { n: 1 } })
  const snapshot = yield* snapshots.load("named-1")
  const readPages = (store as unknown as Record<symbol, ReadPages>)[Symbol.for("@recount/EventStore/readPages")]!
  const seen: Array<number> = []
  yield* readPages("named-1", { tenant: "default", fromVersion: 1 }, (page) => {
    for (const e of page) seen.push(e.streamVersion)
    return true
  })
  expect([snapshot._tag === "Some" && snapshot.value.version, seen]).toEqual([1, [1, 2]])
})

layer(TestDatabase.layerStores({ maxConnections: 1 }), { excludeTestServices: true })("named statements (PostgreSQL)", (it) => {
  it.effect("by default the append and a wake-up's reads are prepared once per connection, and every outcome of the append still answers", () =>
    Effect.gen(function*() {
      yield* appends
      yield* wakeReads
      expect(yield* prepared).toEqual(["recount_append_v1", "recount_load_snapshot_v1", "recount_read_stream_v1"])
    }))
})

layer(TestDatabase.layerStores({ maxConnections: 1, namedStatements: false }), { excludeTestServices: true })("unnamed statements (PostgreSQL)", (it) => {
  it.effect("turned off (for a pooler that drops prepared statements), nothing is prepared", () =>
    Effect.gen(function*() {
      yield* appends
      yield* wakeReads
      expect(yield* prepared).toEqual([])
    }))
})

describe("RECOUNT_PG_NAMED_STATEMENTS", () => {
  /** Whether the pool `Database.layerClient` builds, under `env`, prepares statements. */
  const namedUnder = (env: ReadonlyArray<readonly [string, string]>) =>
    Effect.gen(function*() {
      const url = yield* TestDatabase.TestDatabaseUrl
      const client = Database.layerClient({ maxConnections: 1 }).pipe(
        Layer.provide(Layer.succeed(Database.DatabaseUrl, { url: Redacted.make(url), source: "external", dataDir: Option.none() }))
      )
      return yield* Effect.map(PgPool, PgPoolModule.namedStatements).pipe(
        Effect.provide(client),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env)))
      )
    }).pipe(Effect.scoped, Effect.provide(TestDatabase.layerUrl))

  it.effect("is read by the node's database layer: on by default, off when set to false", () =>
    Effect.gen(function*() {
      expect([yield* namedUnder([]), yield* namedUnder([["RECOUNT_PG_NAMED_STATEMENTS", "false"]]), yield* namedUnder([["RECOUNT_PG_NAMED_STATEMENTS", "true"]])])
        .toEqual([true, false, true])
    }))
})
