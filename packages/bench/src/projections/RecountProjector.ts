/**
 * The Recount side: projections defined with the public API (`Projection.make` with a handler per
 * event, `Projection.makeBatched` with one statement per batch) and run by `Projections.layerLocal`
 * on one `ManagedRuntime` built once, so a round measures the projector, not pool start-up.
 *
 * @since 0.1.0
 */
import type * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { CheckpointStore } from "@recount/core/CheckpointStore"
import * as EventRegistry from "@recount/core/EventRegistry"
import type { EventStore } from "@recount/core/EventStore"
import type { SnapshotStore } from "@recount/core/SnapshotStore"
import * as PgPool from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
import * as Projection from "@recount/runtime/Projection"
import * as Projections from "@recount/runtime/Projections"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as ReadModel from "./ReadModel.js"

/** The deposits of `store/Events.ts`, as the schema a Recount user would write for them. */
export class MoneyDeposited extends Schema.TaggedClass<MoneyDeposited>()(ReadModel.eventType, {
  accountId: Schema.String,
  amount: Schema.Number,
  currency: Schema.String,
  note: Schema.String
}) {}

/** @since 0.1.0 */
export const Deposits = EventRegistry.make([MoneyDeposited])

/** @since 0.1.0 */
export type Services = EventStore | SnapshotStore | CheckpointStore | PgPool.PgPool | SqlClient.SqlClient

/** @since 0.1.0 */
export type RecountRuntime = ManagedRuntime.ManagedRuntime<Services, Migrator.MigrationError | SqlError>

/**
 * The stores (migrated) on a pool of `poolSize`; Effect's logs go to stderr, keeping stdout for
 * results.
 *
 * @since 0.1.0
 */
export const make = (url: string, poolSize: number): RecountRuntime =>
  ManagedRuntime.make(
    PgStores.layer.pipe(
      Layer.provideMerge(PgPool.layer({ url: Redacted.make(url), maxConnections: poolSize })),
      // `XTRACE=0` turns Effect's tracer off, as in `commands/Node.ts`: a diagnostic, to see what
      // the spans @effect/sql opens per statement cost the projector.
      Layer.provide(process.env.XTRACE === "0" ? Layer.setTracerEnabled(false) : Layer.empty),
      Layer.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
    )
  )

const migrations = (table: string): Readonly<Record<string, Projection.Migration>> => ({
  "0001_create_table": (target) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(ReadModel.createTable(target.table(table))))
})

/**
 * Balances per account with a handler per event: one upsert each.
 *
 * @since 0.1.0
 */
export const perEvent = (name: string, table: string, batchSize: number): Projection.Projection<MoneyDeposited> =>
  Projection.make({
    name,
    events: Deposits,
    tables: [table],
    migrations: migrations(table),
    batchSize,
    handle: (event, _envelope, target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(ReadModel.upsertOne(target.table(table)), [event.accountId, event.amount]))
  })

/**
 * Balances per account with a handler per batch: one multi-row upsert each.
 *
 * @since 0.1.0
 */
export const batched = (name: string, table: string, batchSize: number): Projection.Projection<MoneyDeposited> =>
  Projection.makeBatched({
    name,
    events: Deposits,
    tables: [table],
    migrations: migrations(table),
    batchSize,
    handleBatch: (events, target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) => {
        const sums = ReadModel.sumByAccount(events.map((d) => d.event))
        return sql.unsafe(ReadModel.upsertMany(target.table(table)), [sums.accounts, sums.amounts, sums.counts])
      })
  })

/** The last event of the log, which a caught-up projection's checkpoint has passed. */
export interface Head {
  readonly tenant: string
  readonly streamName: string
  readonly streamVersion: number
}

/**
 * Starts `projection` from an empty read model and waits until it has applied `head`; returns the
 * seconds from start (lease, migration, view included) to the commit of its last batch.
 *
 * Completion comes from `Projections.waitFor`, which the local runner wakes after each commit, so
 * the wait adds no polling delay to the time.
 *
 * @since 0.1.0
 */
export const catchUp = (runtime: RecountRuntime, projection: Projection.Any, head: Head): Promise<number> =>
  runtime.runPromise(Effect.scoped(Effect.gen(function*() {
    const start = performance.now()
    const context = yield* Layer.build(Projections.layerLocal([projection], { pollInterval: "100 millis" }))
    const projections = Context.get(context, Projections.Projections)
    const waited = yield* projections.waitFor(
      { tenant: head.tenant, streamName: head.streamName, firstVersion: head.streamVersion, lastVersion: head.streamVersion },
      { projections: [projection.name], timeout: "10 minutes" }
    )
    const seconds = (performance.now() - start) / 1000
    if (!waited.caughtUp) return yield* Effect.dieMessage(`projection ${projection.name} did not catch up in 10 minutes`)
    const [status] = yield* projections.status([projection.name])
    if (status?.lagEvents !== 0 || status.lastError !== null) {
      return yield* Effect.dieMessage(`projection ${projection.name} finished with lag ${status?.lagEvents} and error ${status?.lastError}`)
    }
    return seconds
  })))
