/**
 * The typed errors of dispatching commands and operating projections, besides an aggregate's own
 * domain errors. Plain schemas: they cross the wire, and clients decode them without the runtime.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Another writer kept changing the aggregate's stream: the command was decided again after each
 * conflict, `attempts` times, and never appended.
 *
 * @since 0.1.0
 */
export class CommandConflict extends Schema.TaggedError<CommandConflict>()("CommandConflict", {
  aggregate: Schema.String,
  aggregateId: Schema.String,
  attempts: Schema.Number
}) {
  override get message() {
    return `${this.aggregate} ${this.aggregateId}: the stream changed under the command ${this.attempts} times; nothing was appended`
  }
}

/**
 * No reply within the timeout. The command may still complete; retry with the same command id to
 * learn its result.
 *
 * @since 0.1.0
 */
export class CommandTimeout extends Schema.TaggedError<CommandTimeout>()("CommandTimeout", {
  aggregate: Schema.String,
  aggregateId: Schema.String,
  commandId: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message() {
    return `${this.aggregate} ${this.aggregateId}: no reply to command ${this.commandId} within ${this.timeoutMillis} ms; retry with the same command id`
  }
}

/**
 * The aggregate could not be reached or its store failed. Retry with the same command id.
 *
 * @since 0.1.0
 */
export class AggregateUnavailable extends Schema.TaggedError<AggregateUnavailable>()("AggregateUnavailable", {
  aggregate: Schema.String,
  aggregateId: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `${this.aggregate} ${this.aggregateId} is unavailable: ${this.detail}`
  }
}

/**
 * A command, aggregate name, id or option that cannot be dispatched as given.
 *
 * @since 0.1.0
 */
export class InvalidCommand extends Schema.TaggedError<InvalidCommand>()("InvalidCommand", {
  aggregate: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `invalid command for ${this.aggregate}: ${this.detail}`
  }
}

/**
 * No projection of that name is registered on this node.
 *
 * @since 0.1.0
 */
export class UnknownProjection extends Schema.TaggedError<UnknownProjection>()("UnknownProjection", {
  projection: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message() {
    return `unknown projection ${this.projection}; known: ${this.known.join(", ") || "none"}`
  }
}

/**
 * The projection has no parked event with that id.
 *
 * @since 0.1.0
 */
export class DeadLetterNotFound extends Schema.TaggedError<DeadLetterNotFound>()("DeadLetterNotFound", {
  projection: Schema.String,
  eventId: Schema.String
}) {
  override get message() {
    return `projection ${this.projection} has no parked event ${this.eventId}`
  }
}

/**
 * The projections' state could not be read or changed (the database failed).
 *
 * @since 0.1.0
 */
export class ProjectionsUnavailable extends Schema.TaggedError<ProjectionsUnavailable>()("ProjectionsUnavailable", {
  detail: Schema.String
}) {
  override get message() {
    return `projections are unavailable: ${this.detail}`
  }
}

/**
 * The projection cannot be rebuilt: a side-effect handler has no read model, and replaying it
 * would repeat its effects.
 *
 * @since 0.1.0
 */
export class RebuildNotSupported extends Schema.TaggedError<RebuildNotSupported>()("RebuildNotSupported", {
  projection: Schema.String
}) {
  override get message() {
    return `${this.projection} is a side-effect handler: it has no read model to rebuild`
  }
}
