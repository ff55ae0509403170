/**
 * Snapshots on PostgreSQL: the latest snapshot per stream in `recount_snapshots`.
 *
 * @since 0.1.0
 */
import { SnapshotStore, validate } from "@recount/core/SnapshotStore"
import { StoreUnavailable } from "@recount/core/EventStoreError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { query, type QueryError } from "./internal/query.js"
import * as PgPool from "./PgPool.js"

const unavailable = (operation: string) => (e: QueryError) => new StoreUnavailable({ operation, detail: e.message })

// Straight on the pool, as the event store's statements are: every wake-up loads a snapshot, and
// the SQL client's span, connection scope and row transform cost more than the query here.
/**
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const pool = yield* PgPool.PgPool
  // Every wake-up loads a snapshot: prepared once per connection, when the pool allows.
  const loadName = PgPool.namedStatements(pool) ? "recount_load_snapshot_v1" : undefined
  return SnapshotStore.of({
    save: (snapshot, options) =>
      Effect.flatMap(validate(snapshot.streamName, options?.tenant), ({ streamName, tenant }) =>
        query(
          pool,
          `INSERT INTO recount_snapshots (tenant, stream_name, version, schema_version, state)
           VALUES ($1, $2, $3, $4, $5::jsonb)
           ON CONFLICT (tenant, stream_name) DO UPDATE
             SET version = excluded.version, schema_version = excluded.schema_version,
                 state = excluded.state, taken_at = now()
             WHERE recount_snapshots.version <= excluded.version`,
          [tenant, streamName, snapshot.version, snapshot.schemaVersion, JSON.stringify(snapshot.state)]
        ).pipe(Effect.mapError(unavailable("saveSnapshot")), Effect.asVoid)),
    load: (streamName, options) =>
      Effect.flatMap(validate(streamName, options?.tenant), ({ streamName, tenant }) =>
        query<{ version: string; schema_version: number; state: unknown; taken_at: Date }>(
          pool,
          "SELECT version, schema_version, state, taken_at FROM recount_snapshots WHERE tenant = $1 AND stream_name = $2",
          [tenant, streamName],
          loadName
        ).pipe(
          Effect.mapError(unavailable("loadSnapshot")),
          Effect.map((rows) =>
            Option.map(Option.fromNullable(rows[0]), (row) => ({
              streamName,
              version: Number(row.version),
              schemaVersion: row.schema_version,
              state: row.state,
              takenAt: row.taken_at
            }))
          )
        ))
  })
})

/** @since 0.1.0 */
export const layer: Layer.Layer<SnapshotStore, never, PgPool.PgPool> = Layer.effect(SnapshotStore, make)
