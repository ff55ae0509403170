import type { RecordedEvent } from "@recount/core/EventEnvelope"

/**
 * The columns every event read selects. `transaction_id` comes back as text, so an ORDER BY must
 * name the table's column (`recount_events.transaction_id`): the bare name would sort the text.
 *
 * `recorded_at` comes back as whole milliseconds since the epoch, rounded down as `pg`'s own parse
 * of the timestamp does (a `Date` keeps whole milliseconds): parsing the timestamp's text was
 * about a tenth of a projector's client CPU per event (a regular expression and a time-zone
 * parse each), and `new Date(ms)` is the same instant for a fraction of it.
 */
export const eventColumns =
  "global_position, transaction_id::text AS transaction_id, tenant, stream_name, category, stream_version, event_id, " +
  "event_type, schema_version, data, metadata, correlation_id, causation_id, " +
  "floor(extract(epoch FROM recorded_at) * 1000)::float8 AS recorded_at"

export interface EventRow {
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
  /** Milliseconds since the epoch (see `eventColumns`). */
  readonly recorded_at: number
}

export const toRecordedEvent = (row: EventRow): RecordedEvent => ({
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
