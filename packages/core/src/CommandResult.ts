/**
 * What a dispatched command returns, and an aggregate's state as the runtime reports it. Plain
 * schemas, so that clients can decode them without the runtime.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * An event a command produced, as stored.
 *
 * @since 0.1.0
 */
export const DecidedEvent = Schema.Struct({
  eventId: Schema.String,
  type: Schema.String,
  streamVersion: Schema.Number,
  data: Schema.Unknown
})
/** @since 0.1.0 */
export interface DecidedEvent extends Schema.Schema.Type<typeof DecidedEvent> {}

/**
 * What a handled command did.
 *
 * @since 0.1.0
 */
export const CommandResult = Schema.Struct({
  aggregate: Schema.String,
  aggregateId: Schema.String,
  commandId: Schema.String,
  /** The stream's version after the command. */
  streamVersion: Schema.Number,
  /** The global position of the stream's last event. */
  globalPosition: Schema.BigInt,
  events: Schema.Array(DecidedEvent),
  /** True when this is the stored result of an earlier delivery of the same command id. */
  alreadyApplied: Schema.Boolean
})
/** @since 0.1.0 */
export interface CommandResult extends Schema.Schema.Type<typeof CommandResult> {}

/**
 * An aggregate's in-memory state and the version it includes.
 *
 * @since 0.1.0
 */
export const StateView = Schema.Struct({ version: Schema.Number, state: Schema.Unknown })
/** @since 0.1.0 */
export interface StateView extends Schema.Schema.Type<typeof StateView> {}
