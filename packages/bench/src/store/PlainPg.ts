/**
 * The baseline: the SQL Recount's PostgreSQL store sends, sent with the plain `pg` driver and no
 * validation, so the difference from Recount is what Recount adds on the client.
 *
 * The statements mirror packages/postgres/src/PgEventStore.ts and internal/rows.ts (not
 * importable: internal); `SqlParity` checks at start-up that they still match what Recount sends.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import type pg from "pg"
import type { NewEvent } from "./Events.js"

const tenant = "default"

/** @since 0.1.0 */
export const appendSql = "SELECT status, stream_version, global_position, first_version FROM recount_append($1, $2, $3, $4, $5::jsonb, $6)"

const eventColumns =
  "global_position, transaction_id::text AS transaction_id, tenant, stream_name, category, stream_version, event_id, " +
  "event_type, schema_version, data, metadata, correlation_id, causation_id, " +
  "floor(extract(epoch FROM recorded_at) * 1000)::float8 AS recorded_at"

/** @since 0.1.0 */
export const forwardSql = `SELECT ${eventColumns} FROM recount_events ` +
  "WHERE tenant = $1 AND stream_name = $2 AND stream_version >= $3 ORDER BY stream_version LIMIT $4"

/** The select list turns `transaction_id` into text, so the ORDER BY names the table's column. */
export const readAllSql = `SELECT ${eventColumns} FROM recount_events ` +
  "WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint) " +
  "AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) " +
  "ORDER BY recount_events.transaction_id, recount_events.global_position LIMIT $3"

interface AppendRow {
  readonly status: number
  readonly stream_version: string | null
  readonly global_position: string | null
  readonly first_version: string | null
}

interface EventRow {
  readonly global_position: string
  readonly transaction_id: string
  readonly tenant: string
  readonly stream_name: string
  readonly category: string
  readonly stream_version: string
  readonly event_id: string
  readonly event_type: string
  readonly schema_version: number
  readonly data: unknown
  readonly metadata: Record<string, unknown>
  readonly correlation_id: string | null
  readonly causation_id: string | null
  /** Milliseconds since the epoch, as Recount selects it. */
  readonly recorded_at: number
}

/** The same shape as Recount's `RecordedEvent`, converted the same way. */
export interface Event {
  readonly eventId: string
  readonly tenant: string
  readonly streamName: string
  readonly category: string
  readonly streamVersion: number
  readonly globalPosition: bigint
  readonly transactionId: bigint
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
  readonly metadata: Record<string, unknown>
  readonly correlationId: string | null
  readonly causationId: string | null
  readonly recordedAt: Date
}

/** A pool, or one connection of it or of its own. */
export type Queryable = pg.Pool | pg.PoolClient | pg.Client

const toEvent = (row: EventRow): Event => ({
  eventId: row.event_id,
  tenant: row.tenant,
  streamName: row.stream_name,
  category: row.category,
  streamVersion: Number(row.stream_version),
  globalPosition: BigInt(row.global_position),
  transactionId: BigInt(row.transaction_id),
  type: row.event_type,
  schemaVersion: row.schema_version,
  data: row.data,
  metadata: row.metadata,
  correlationId: row.correlation_id,
  causationId: row.causation_id,
  recordedAt: new Date(row.recorded_at)
})

export interface Appended {
  readonly streamVersion: number
  readonly firstVersion: number
  readonly globalPosition: bigint
}

/**
 * Appends expecting the stream at exactly `expectedVersion`; throws on any other outcome, which
 * in this benchmark would be a bug. With a `commandId` the function also records the command for
 * idempotency and gives the events that id as their correlation and causation ids, as Recount's
 * runtime does for every dispatched command.
 *
 * @since 0.1.0
 */
export const append = async (
  pool: Queryable,
  streamName: string,
  events: ReadonlyArray<NewEvent | { readonly type: string; readonly data: unknown }>,
  expectedVersion: number,
  commandId: string | null = null
): Promise<Appended> => {
  let json = "["
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    if (i > 0) json += ","
    json += `{"i":"${randomUUID()}","t":${JSON.stringify(e.type)},"v":1,"d":${JSON.stringify(e.data)},"m":{}`
    json += commandId === null ? "}" : `,"c":"${commandId}","k":"${commandId}"}`
  }
  json += "]"
  const category = streamName.slice(0, streamName.indexOf("-"))
  const result = await pool.query<AppendRow>(appendSql, [tenant, streamName, category, expectedVersion, json, commandId])
  const row = result.rows[0]
  if (row === undefined || row.status !== 0) {
    throw new Error(`baseline append to ${streamName} at ${expectedVersion} returned status ${row?.status}`)
  }
  return {
    streamVersion: Number(row.stream_version),
    firstVersion: Number(row.first_version),
    globalPosition: BigInt(row.global_position!)
  }
}

/**
 * Reads a whole stream forward in pages (from `fromVersion`, by default its start), folding each
 * event into `state` as a reader that rebuilds an aggregate would.
 *
 * @since 0.1.0
 */
export const foldStream = async <S>(
  pool: pg.Pool,
  streamName: string,
  pageSize: number,
  state: S,
  f: (state: S, event: Event) => S,
  fromVersion = 1
): Promise<S> => {
  let next = fromVersion
  for (;;) {
    const { rows } = await pool.query<EventRow>(forwardSql, [tenant, streamName, next, pageSize])
    const events = rows.map(toEvent)
    for (const e of events) state = f(state, e)
    const last = events[events.length - 1]
    if (rows.length < pageSize || last === undefined) return state
    next = last.streamVersion + 1
  }
}

/** A position in the global log, as Recount's `Checkpoint`. */
export interface Checkpoint {
  readonly transactionId: bigint
  readonly position: bigint
}

/**
 * One fenced batch of the global log after `after`.
 *
 * @since 0.1.0
 */
export const readAll = async (
  pool: pg.Pool,
  after: Checkpoint,
  batchSize: number
): Promise<{ readonly events: ReadonlyArray<Event>; readonly checkpoint: Checkpoint }> => {
  const { rows } = await pool.query<EventRow>(readAllSql, [String(after.transactionId), String(after.position), batchSize])
  const events = rows.map(toEvent)
  const last = events[events.length - 1]
  return { events, checkpoint: last ? { transactionId: last.transactionId, position: last.globalPosition } : after }
}
