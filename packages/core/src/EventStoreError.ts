/**
 * The typed errors of the event store, snapshot store and checkpoint store. All of them are
 * schemas, so they cross the wire (RPC, HTTP) unchanged.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { ExpectedVersion, format } from "./ExpectedVersion.js"

/**
 * The stream was not at the version the writer expected. Nothing was appended.
 *
 * @since 0.1.0
 */
export class WrongExpectedVersion extends Schema.TaggedError<WrongExpectedVersion>()("WrongExpectedVersion", {
  tenant: Schema.String,
  streamName: Schema.String,
  expected: ExpectedVersion,
  /** The stream's version when the append was tried; 0 when it has no events. */
  actual: Schema.Number
}) {
  override get message() {
    return `stream ${this.streamName} (tenant ${this.tenant}) is at version ${this.actual}, expected ${format(this.expected)}`
  }
}

/**
 * An event id that is already stored was appended with other content (or to another stream).
 * Nothing was appended.
 *
 * @since 0.1.0
 */
export class EventIdConflict extends Schema.TaggedError<EventIdConflict>()("EventIdConflict", {
  eventId: Schema.String,
  streamName: Schema.String
}) {
  override get message() {
    return `event id ${this.eventId} is already stored with other content or in another position; append to ${this.streamName} refused`
  }
}

/**
 * A stream name that is empty, too long, has no `<category>-` prefix, or contains control characters.
 *
 * @since 0.1.0
 */
export class InvalidStreamName extends Schema.TaggedError<InvalidStreamName>()("InvalidStreamName", {
  value: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid stream name ${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/**
 * An event in an append that cannot be stored as given; `index` is its place in the append.
 *
 * @since 0.1.0
 */
export class InvalidEvent extends Schema.TaggedError<InvalidEvent>()("InvalidEvent", {
  index: Schema.Number,
  field: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `event #${this.index}: ${this.field} ${this.reason}`
  }
}

/**
 * An event whose data and metadata together are larger than the configured limit.
 *
 * @since 0.1.0
 */
export class EventTooLarge extends Schema.TaggedError<EventTooLarge>()("EventTooLarge", {
  index: Schema.Number,
  eventType: Schema.String,
  bytes: Schema.Number,
  limit: Schema.Number
}) {
  override get message() {
    return `event #${this.index} (${this.eventType}) is ${this.bytes} bytes, over the limit of ${this.limit}`
  }
}

/**
 * A tenant, command id or read option that the store does not accept.
 *
 * @since 0.1.0
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  argument: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid ${this.argument}: ${this.reason}`
  }
}

/**
 * A stored event whose data does not decode with its schema (after upcasting).
 *
 * @since 0.1.0
 */
export class EventDecodeError extends Schema.TaggedError<EventDecodeError>()("EventDecodeError", {
  eventId: Schema.String,
  eventType: Schema.String,
  schemaVersion: Schema.Number,
  detail: Schema.String
}) {
  override get message() {
    return `event ${this.eventId} of type ${this.eventType} (schema version ${this.schemaVersion}) does not decode: ${this.detail}`
  }
}

/**
 * A domain event that does not encode with its schema, or whose type is not registered.
 *
 * @since 0.1.0
 */
export class EventEncodeError extends Schema.TaggedError<EventEncodeError>()("EventEncodeError", {
  eventType: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `event of type ${this.eventType} does not encode: ${this.detail}`
  }
}

/**
 * The storage behind the store failed (connection lost, server down, a statement error).
 * Whether an append that failed this way took effect is unknown; retry it with the same
 * event ids or command id.
 *
 * @since 0.1.0
 */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  operation: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `event store unavailable during ${this.operation}: ${this.detail}`
  }
}

/** Errors an append can fail with. */
export type AppendError =
  | WrongExpectedVersion
  | EventIdConflict
  | InvalidStreamName
  | InvalidEvent
  | EventTooLarge
  | InvalidArgument
  | StoreUnavailable

/** Errors a read can fail with. */
export type ReadError = InvalidStreamName | InvalidArgument | StoreUnavailable
