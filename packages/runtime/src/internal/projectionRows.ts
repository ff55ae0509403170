import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Checkpoint from "@recount/core/Checkpoint"
import * as Effect from "effect/Effect"
import type * as Projection from "../Projection.js"

/** A projection's control row, as the runner and the operations see it. */
export interface ControlRow {
  readonly version: number
  readonly checkpoint: Checkpoint.Checkpoint
  readonly eventsApplied: bigint
  readonly paused: boolean
  readonly failed: boolean
  readonly lastError: string | null
  readonly rebuildVersion: number | null
  readonly rebuildCheckpoint: Checkpoint.Checkpoint | null
  readonly epoch: bigint
  readonly owner: string | null
  readonly heartbeatAt: Date | null
  readonly updatedAt: Date
}

/** A control row as `columns` selects it. */
export interface RawRow {
  readonly version: number
  readonly tx: string
  readonly pos: string
  readonly events_applied: string
  readonly paused: boolean
  readonly failed: boolean
  readonly last_error: string | null
  readonly rebuild_version: number | null
  readonly rtx: string | null
  readonly rpos: string | null
  readonly epoch: string
  readonly owner: string | null
  readonly heartbeat_at: Date | null
  readonly updated_at: Date
}

export const columns = `name, version, transaction_id::text AS tx, global_position::text AS pos, events_applied::text AS events_applied,
  paused, failed_at IS NOT NULL AS failed, last_error, rebuild_version, rebuild_transaction_id::text AS rtx,
  rebuild_position::text AS rpos, epoch::text AS epoch, owner, heartbeat_at, updated_at`

export const toControlRow = (row: RawRow): ControlRow => ({
  version: row.version,
  checkpoint: Checkpoint.make(BigInt(row.tx), BigInt(row.pos)),
  eventsApplied: BigInt(row.events_applied),
  paused: row.paused,
  failed: row.failed,
  lastError: row.last_error,
  rebuildVersion: row.rebuild_version,
  rebuildCheckpoint: row.rtx === null || row.rpos === null ? null : Checkpoint.make(BigInt(row.rtx), BigInt(row.rpos)),
  epoch: BigInt(row.epoch),
  owner: row.owner,
  heartbeatAt: row.heartbeat_at,
  updatedAt: row.updated_at
})

/** The control rows of these projections, by name. */
export const load = (names: ReadonlyArray<string>, options?: { readonly forUpdate?: boolean }) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql.unsafe<RawRow & { name: string }>(
      `SELECT ${columns} FROM recount_projections WHERE name = ANY($1)${options?.forUpdate ? " FOR UPDATE" : ""}`,
      [names]
    )
    return new Map(rows.map((r) => [r.name, toControlRow(r)] as const))
  })

export const ensure = (name: string): Effect.Effect<void, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe("INSERT INTO recount_projections (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [name]).pipe(Effect.asVoid))

/**
 * Runs the projection's migrations that have not run for this read-model version, each with its
 * record in one transaction (a concurrent starter waits on the record's key, then skips it).
 */
export const migrate = (projection: Projection.Any, target: Projection.Target) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const [id, migration] of projection.migrations) {
      yield* sql.withTransaction(Effect.gen(function*() {
        const inserted = yield* sql.unsafe(
          `INSERT INTO recount_projection_migrations (projection, version, migration) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING 1`,
          [projection.name, target.version, id]
        )
        if (inserted.length > 0) yield* migration(target)
      }))
    }
  })

/** Points each logical table's view at a read-model version. Call inside a transaction. */
export const pointViews = (projection: Projection.Any, target: Projection.Target) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.forEach(projection.tables, (table) =>
      Effect.zipRight(
        sql.unsafe(`DROP VIEW IF EXISTS ${quote(table)}`),
        sql.unsafe(`CREATE VIEW ${quote(table)} AS SELECT * FROM ${quote(target.table(table))}`)
      ), { discard: true }))

/** Drops a read-model version's tables and forgets its migrations. */
export const dropVersion = (projection: Projection.Any, target: Projection.Target) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      Effect.forEach(projection.tables, (table) => sql.unsafe(`DROP TABLE IF EXISTS ${quote(target.table(table))} CASCADE`), { discard: true }),
      sql.unsafe("DELETE FROM recount_projection_migrations WHERE projection = $1 AND version = $2", [projection.name, target.version])
    ))

/** Table names are checked by `Projection.make` (lower case, digits, `_`); quoting keeps them exact. */
export const quote = (identifier: string) => `"${identifier}"`
