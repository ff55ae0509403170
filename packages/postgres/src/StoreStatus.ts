/**
 * A summary of what the store holds, for operators and `npm start`.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { StoreUnavailable } from "@recount/core/EventStoreError"
import * as Effect from "effect/Effect"
import { table } from "./Migrations.js"
import { unavailable } from "./internal/sqlError.js"

/**
 * @since 0.1.0
 */
export interface StoreStatus {
  readonly serverVersion: string
  readonly migrations: ReadonlyArray<string>
  readonly streams: number
  readonly events: number
  readonly lastPosition: bigint
}

/**
 * Reads the status. The counts come from indexes and table sizes, so it stays cheap on big stores.
 *
 * @since 0.1.0
 */
export const get: Effect.Effect<StoreStatus, StoreUnavailable, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [version] = yield* sql.unsafe<{ server_version: string }>("SHOW server_version")
  const migrations = yield* sql.unsafe<{ name: string; migration_id: number }>(
    `SELECT migration_id, name FROM ${table} ORDER BY migration_id`
  )
  const [counts] = yield* sql.unsafe<{ streams: string; events: string; last_position: string | null }>(
    `SELECT (SELECT count(*) FROM recount_streams) AS streams,
            (SELECT count(*) FROM recount_events) AS events,
            (SELECT max(global_position) FROM recount_events) AS last_position`
  )
  return {
    serverVersion: version?.server_version ?? "unknown",
    migrations: migrations.map((m) => `${String(m.migration_id).padStart(4, "0")}_${m.name}`),
    streams: Number(counts?.streams ?? 0),
    events: Number(counts?.events ?? 0),
    lastPosition: BigInt(counts?.last_position ?? 0)
  }
}).pipe(Effect.mapError(unavailable("status")))
