/**
 * What the projections' operations report: a projection's status, a parked event, and whether
 * projections caught up with a command. Plain schemas, so that clients decode them without the
 * runtime.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Checkpoint from "./Checkpoint.js"

/**
 * Where a projection stands. `state` is `running` (caught up or nearly), `catching-up` (more than
 * a batch behind), `paused`, `failed` (a strict projection stopped on an event), `rebuilding`
 * (a new version is being filled while this one serves), or `stopped` (no instance holds its lease).
 *
 * @since 0.1.0
 */
export const ProjectionStatus = Schema.Struct({
  name: Schema.String,
  state: Schema.Literal("running", "catching-up", "paused", "failed", "rebuilding", "stopped"),
  /** The read-model version that readers see through the views. */
  version: Schema.Number,
  checkpoint: Checkpoint.Checkpoint,
  eventsApplied: Schema.BigInt,
  /** Events of the projection's types after its checkpoint. */
  lagEvents: Schema.Number,
  /** Age of the oldest event it has not applied yet; 0 when caught up. */
  lagSeconds: Schema.Number,
  lastError: Schema.NullOr(Schema.String),
  parkedEvents: Schema.Number,
  owner: Schema.NullOr(Schema.String),
  rebuild: Schema.NullOr(Schema.Struct({ version: Schema.Number, checkpoint: Checkpoint.Checkpoint, lagEvents: Schema.Number }))
})
/** @since 0.1.0 */
export interface ProjectionStatus extends Schema.Schema.Type<typeof ProjectionStatus> {}

/**
 * An event a projection parked after its handler kept failing.
 *
 * @since 0.1.0
 */
export const DeadLetter = Schema.Struct({
  projection: Schema.String,
  eventId: Schema.String,
  checkpoint: Checkpoint.Checkpoint,
  tenant: Schema.String,
  streamName: Schema.String,
  streamVersion: Schema.Number,
  eventType: Schema.String,
  error: Schema.String,
  attempts: Schema.Number,
  /** `parked`; `retry` (asked for, not yet done); `applied` (a retry succeeded); `skipped`. */
  status: Schema.Literal("parked", "retry", "applied", "skipped"),
  parkedAt: Schema.Date,
  resolvedAt: Schema.NullOr(Schema.Date)
})
/** @since 0.1.0 */
export interface DeadLetter extends Schema.Schema.Type<typeof DeadLetter> {}

/**
 * Whether projections had applied a command's events when the caller stopped waiting. The events
 * are committed either way.
 *
 * @since 0.1.0
 */
export const CaughtUp = Schema.Struct({
  /** True when every projection waited for had applied the command's events. */
  caughtUp: Schema.Boolean,
  /** Projections that had not, when the wait timed out. */
  lagging: Schema.Array(Schema.String),
  waitedMillis: Schema.Number
})
/** @since 0.1.0 */
export interface CaughtUp extends Schema.Schema.Type<typeof CaughtUp> {}
