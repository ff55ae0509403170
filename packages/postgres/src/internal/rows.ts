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

/**
 * An event row as `pg` returns it in array mode (`queryValues`): `eventColumns`' values in their
 * order, then whatever else the statement selects. Every read of events takes its rows so: `pg`
 * builds an object row by copying a template of the 14 names and setting each value by name, which
 * cost about 1.3 µs of client CPU an event more than an array here.
 */
export type EventValues = ReadonlyArray<unknown>

/** The index of the first value after the event's own in an `EventValues` (`eventColumns` has 14). */
export const eventColumnCount = 14

/**
 * An `int8`'s text as a `bigint`. Text of up to 15 characters is an integer below 10^15, which a
 * `number` holds exactly, and `BigInt` of a number was about 45 ns here against 110 ns for the
 * parse of the text (the global position, once per event read). Longer text is parsed as it is.
 */
export const int8 = (text: string): bigint => text.length <= 15 ? BigInt(Number(text)) : BigInt(text)

/**
 * A builder of the events of one page of `EventValues`, called on its rows in log order.
 * Neighbouring events mostly share their tenant, category and type, and the events of one append
 * share their stream and transaction: an event takes the previous one's string or transaction id
 * when it is equal (the same value, one copy), so a page a projector holds while it reads ahead
 * keeps fewer objects for the collector to move.
 */
export const makePageReader = (): (values: EventValues) => RecordedEvent => {
  let previous: RecordedEvent | undefined
  let previousTx = ""
  return (values) => {
    const p = previous
    const tx = values[1] as string
    const tenant = values[2] as string
    const streamName = values[3] as string
    const category = values[4] as string
    const type = values[7] as string
    // The same fields in the same order for every read: one object shape.
    const event: RecordedEvent = {
      eventId: values[6] as string,
      tenant: p !== undefined && tenant === p.tenant ? p.tenant : tenant,
      streamName: p !== undefined && streamName === p.streamName ? p.streamName : streamName,
      category: p !== undefined && category === p.category ? p.category : category,
      streamVersion: Number(values[5] as string),
      globalPosition: int8(values[0] as string),
      transactionId: p !== undefined && tx === previousTx ? p.transactionId : int8(tx),
      type: p !== undefined && type === p.type ? p.type : type,
      schemaVersion: values[8] as number,
      data: values[9],
      metadata: values[10] as Record<string, unknown>,
      correlationId: values[11] as string | null,
      causationId: values[12] as string | null,
      recordedAt: new Date(values[13] as number)
    }
    previous = event
    previousTx = tx
    return event
  }
}
