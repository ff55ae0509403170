/**
 * Events as the store sees them: what a writer appends, and what a reader gets back.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** A JSON object, for metadata. */
export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * An event to append. `data` and `metadata` must be JSON; `eventId` is generated when absent.
 *
 * @since 0.1.0
 */
export interface EventData {
  /** A UUID. Appending an id that is already stored with the same content is a no-op. */
  readonly eventId?: string | undefined
  readonly type: string
  /** The version of the event's schema, for upcasting; defaults to 1. */
  readonly schemaVersion?: number | undefined
  readonly data: unknown
  readonly metadata?: Readonly<Record<string, unknown>> | undefined
  readonly correlationId?: string | undefined
  readonly causationId?: string | undefined
}

/**
 * A stored event.
 *
 * @since 0.1.0
 */
export const RecordedEvent = Schema.Struct({
  eventId: Schema.String,
  tenant: Schema.String,
  streamName: Schema.String,
  category: Schema.String,
  /** 1 for the first event of a stream, then gap-free. */
  streamVersion: Schema.Number,
  globalPosition: Schema.BigInt,
  transactionId: Schema.BigInt,
  type: Schema.String,
  schemaVersion: Schema.Number,
  data: Schema.Unknown,
  metadata: JsonObject,
  correlationId: Schema.NullOr(Schema.String),
  causationId: Schema.NullOr(Schema.String),
  /** Database time of the writing transaction. */
  recordedAt: Schema.DateFromSelf
})
/** @since 0.1.0 */
export interface RecordedEvent extends Schema.Schema.Type<typeof RecordedEvent> {}

/**
 * What an append did.
 *
 * @since 0.1.0
 */
export const AppendResult = Schema.Struct({
  /** The stream's version after the append. */
  streamVersion: Schema.Number,
  /** The stream version of the first appended event (`streamVersion + 1` when none were). */
  firstVersion: Schema.Number,
  /** The global position of the stream's last event. */
  globalPosition: Schema.BigInt,
  /** True when nothing was written because the event ids or the command id were already stored. */
  alreadyApplied: Schema.Boolean
})
/** @since 0.1.0 */
export interface AppendResult extends Schema.Schema.Type<typeof AppendResult> {}
