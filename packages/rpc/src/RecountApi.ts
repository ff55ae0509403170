/**
 * The public API as an `@effect/rpc` group: dispatch commands, read state and streams, follow the
 * log, inspect projections, manage API keys. Client-safe: it imports schemas only, never the
 * server, the cluster or the database.
 *
 * @since 0.1.0
 */
import { Rpc, RpcGroup, RpcMiddleware } from "@effect/rpc"
import * as Checkpoint from "@recount/core/Checkpoint"
import { CommandResult, StateView } from "@recount/core/CommandResult"
import {
  AggregateUnavailable,
  CommandConflict,
  CommandTimeout,
  DeadLetterNotFound,
  InvalidCommand,
  ProjectionsUnavailable,
  RebuildNotSupported,
  UnknownProjection
} from "@recount/core/DispatchError"
import { RecordedEvent } from "@recount/core/EventEnvelope"
import { InvalidArgument, InvalidStreamName, StoreUnavailable } from "@recount/core/EventStoreError"
import { CaughtUp, DeadLetter, ProjectionStatus } from "@recount/core/ProjectionStatus"
import {
  ExecutionNotFound,
  ExecutionState,
  InvalidExecutionState,
  UnknownWorkflow,
  WorkflowExecution,
  WorkflowsUnavailable
} from "@recount/core/WorkflowStatus"
import * as Context from "effect/Context"
import { identity } from "effect/Function"
import * as Schema from "effect/Schema"

// Errors of the API itself -------------------------------------------------------------------------

/**
 * No API key, or one that is unknown or revoked. HTTP 401.
 *
 * @since 0.1.0
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", { reason: Schema.String }) {
  override get message() {
    return `unauthorized: ${this.reason}`
  }
}

/**
 * The key is valid but may not do this: another tenant, or a role without the right. HTTP 403.
 *
 * @since 0.1.0
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { reason: Schema.String }) {
  override get message() {
    return `forbidden: ${this.reason}`
  }
}

/**
 * The aggregate refused the command. `error` is the domain error encoded with the aggregate's
 * error schema; the typed client decodes it back into the domain error class.
 *
 * @since 0.1.0
 */
export class DomainError extends Schema.TaggedError<DomainError>()("DomainError", {
  aggregate: Schema.String,
  error: Schema.Unknown
}) {
  override get message() {
    const tag = typeof this.error === "object" && this.error !== null && "_tag" in this.error ? String((this.error as { _tag: unknown })._tag) : "error"
    return `${this.aggregate} refused the command: ${tag}`
  }
}

/**
 * A connection asked for more than a limit allows (open subscriptions, page size). HTTP 429/400.
 *
 * @since 0.1.0
 */
export class LimitExceeded extends Schema.TaggedError<LimitExceeded>()("LimitExceeded", {
  limit: Schema.String,
  max: Schema.Number
}) {
  override get message() {
    return `${this.limit} is limited to ${this.max}`
  }
}

// Who is calling -------------------------------------------------------------------------------

/** @since 0.1.0 */
export const Role = Schema.Literal("read", "write", "admin")
/** @since 0.1.0 */
export type Role = typeof Role.Type

/**
 * The caller, from its API key. `tenant` is `"*"` only for the bootstrap admin key, which may act
 * in any tenant.
 *
 * @since 0.1.0
 */
export class Principal extends Context.Tag("@recount/rpc/Principal")<Principal, {
  readonly keyId: string
  readonly tenant: string
  readonly role: Role
}>() {}

/**
 * Checks the bearer key of every call (and every WebSocket message), and provides the `Principal`.
 *
 * @since 0.1.0
 */
export class Authentication extends RpcMiddleware.Tag<Authentication>()("Authentication", {
  provides: Principal,
  failure: Unauthorized,
  requiredForClient: true
}) {}

// Wire shapes ----------------------------------------------------------------------------------

/**
 * A stored event on the wire: positions as strings, the time as ISO text.
 *
 * @since 0.1.0
 */
export const WireEvent = Schema.Struct({ ...RecordedEvent.fields, recordedAt: Schema.Date })
/** @since 0.1.0 */
export interface WireEvent extends Schema.Schema.Type<typeof WireEvent> {}

/** @since 0.1.0 */
export const Consistency = Schema.Union(
  Schema.Literal("eventual", "strong"),
  Schema.Struct({ projections: Schema.optional(Schema.Array(Schema.String)), timeoutMillis: Schema.optional(Schema.Number) })
)

/**
 * What a dispatch returns: the command's result, and whether projections caught up when the call
 * asked for strong consistency.
 *
 * @since 0.1.0
 */
export const DispatchResult = Schema.Struct({ ...CommandResult.fields, projections: Schema.optional(CaughtUp) })
/** @since 0.1.0 */
export interface DispatchResult extends Schema.Schema.Type<typeof DispatchResult> {}

/** @since 0.1.0 */
export const ApiKeyInfo = Schema.Struct({
  id: Schema.String,
  tenant: Schema.String,
  role: Role,
  name: Schema.String,
  createdAt: Schema.Date,
  revokedAt: Schema.NullOr(Schema.Date)
})
/** @since 0.1.0 */
export interface ApiKeyInfo extends Schema.Schema.Type<typeof ApiKeyInfo> {}

/** A new key: the secret `key` is shown once and stored only hashed. */
export const ApiKeyCreated = Schema.Struct({ ...ApiKeyInfo.fields, key: Schema.String })
/** @since 0.1.0 */
export interface ApiKeyCreated extends Schema.Schema.Type<typeof ApiKeyCreated> {}

const tenant = { tenant: Schema.optional(Schema.String) }
const target = { ...tenant, aggregate: Schema.String, id: Schema.String }

const commandErrors = Schema.Union(
  DomainError,
  InvalidCommand,
  CommandConflict,
  CommandTimeout,
  AggregateUnavailable,
  UnknownProjection,
  ProjectionsUnavailable,
  Forbidden
)
const readErrors = Schema.Union(InvalidCommand, AggregateUnavailable, CommandTimeout, Forbidden, InvalidStreamName, InvalidArgument, StoreUnavailable, LimitExceeded)

// The RPCs ---------------------------------------------------------------------------------------

/**
 * A payload schema without a constructor. The RPC client checks a payload with its schema's
 * constructor, when it has one (a `Struct`), and then again when it encodes it; for the calls a
 * client makes most, the encoding's check is enough. Same type, same wire form.
 */
const withoutConstructor = <A, I>(schema: Schema.Schema<A, I>): Schema.Schema<A, I> => Schema.make(schema.ast)

/**
 * A success schema whose values are checked once per call. The RPC library carries a reply in an
 * `Exit` schema, which checks the success value against its type again after decoding it, and
 * before encoding it; encoding and decoding already check every field as they go. For the replies
 * of the calls a client makes most, that second pass was more than half of their schema work on
 * each end (a batch's outcomes: 7.1 -> 2.6 µs a command to encode, 5.7 -> 2.3 to decode). Same
 * type, same wire form.
 */
const checkedOnce = <A, I>(schema: Schema.Schema<A, I>): Schema.Schema<A, I> =>
  Schema.transform(schema, Schema.declare((_: unknown): _ is A => true, { identifier: Schema.format(schema) }), {
    strict: true,
    decode: identity,
    encode: identity
  })

/**
 * A command for an aggregate, given as JSON with its `_tag`: what `Dispatch` takes, and each
 * command of a `DispatchBatch`.
 *
 * @since 0.1.0
 */
export const DispatchPayload = withoutConstructor(Schema.Struct({
  ...target,
  command: Schema.Unknown,
  commandId: Schema.optional(Schema.String),
  consistency: Schema.optional(Consistency),
  timeoutMillis: Schema.optional(Schema.Number)
}))
/** @since 0.1.0 */
export type DispatchPayload = typeof DispatchPayload.Type

/**
 * Dispatches a command, given as JSON with its `_tag`, to an aggregate. Retries must reuse the
 * command id. Once the server has the command, a client that disconnects does not interrupt it.
 *
 * @since 0.1.0
 */
export const Dispatch = Rpc.make("Dispatch", {
  payload: DispatchPayload,
  success: checkedOnce(DispatchResult),
  error: commandErrors
})

/**
 * Most commands in one `DispatchBatch`.
 *
 * @since 0.1.0
 */
export const maxBatchCommands = 256

/**
 * One command's outcome in a `DispatchBatch`: its result (`Right`), or the error its own
 * `Dispatch` would have failed with (`Left`). The wire form of `Schema.Either`, as a plain tagged
 * union: `Schema.Either` checks each value a second time when it builds the `Either` (as much
 * work again as the decoding, on both ends, for every command of a batch). Outcomes are plain
 * objects: an `Either` has the same fields to the type checker, but its `_tag` is on its
 * prototype, so it does not encode.
 *
 * @since 0.1.0
 */
export const DispatchOutcome = Schema.Union(
  Schema.TaggedStruct("Right", { right: DispatchResult }),
  Schema.TaggedStruct("Left", { left: commandErrors })
)
/** @since 0.1.0 */
export type DispatchOutcome = typeof DispatchOutcome.Type

/**
 * Several commands in one call, each checked, run and answered as its own `Dispatch` would be
 * (concurrently, with its own tenant, command id and timeout); the outcomes come back in the
 * commands' order once all are done. `RecountClient` sends the commands its callers dispatch
 * while others are on their way this way: the RPC library's own work per call (about as much
 * CPU as a command's, on each end) is then spent once per batch. At most `maxBatchCommands`.
 *
 * @since 0.1.0
 */
export const DispatchBatch = Rpc.make("DispatchBatch", {
  payload: withoutConstructor(Schema.Struct({ commands: Schema.Array(DispatchPayload).pipe(Schema.maxItems(maxBatchCommands)) })),
  success: checkedOnce(Schema.Array(DispatchOutcome))
})

/** The live aggregate's state (its snapshot encoding when it has one). */
export const GetState = Rpc.make("GetState", { payload: withoutConstructor(Schema.Struct(target)), success: StateView, error: readErrors })

/** The state as of a stream version or a time, folded from the store; never the live instance. */
export const StateAt = Rpc.make("StateAt", {
  payload: { ...target, version: Schema.optional(Schema.Number), time: Schema.optional(Schema.Date) },
  success: StateView,
  error: readErrors
})

/** One page of a stream. `next` is where the following page starts, when there is one. */
export const ReadStream = Rpc.make("ReadStream", {
  payload: {
    ...tenant,
    stream: Schema.String,
    fromVersion: Schema.optional(Schema.Number),
    direction: Schema.optional(Schema.Literal("forward", "backward")),
    limit: Schema.optional(Schema.Number)
  },
  success: Schema.Struct({ events: Schema.Array(WireEvent), next: Schema.NullOr(Schema.Number) }),
  error: readErrors
})

/**
 * Follows the caller's tenant's log from a checkpoint: catches up, then streams new events.
 * Resume after a disconnect from the last event's `(transactionId, globalPosition)`: nothing is
 * skipped or repeated.
 */
export const Subscribe = Rpc.make("Subscribe", {
  payload: {
    ...tenant,
    categories: Schema.optional(Schema.Array(Schema.String)),
    eventTypes: Schema.optional(Schema.Array(Schema.String)),
    after: Schema.optional(Checkpoint.Checkpoint)
  },
  success: WireEvent,
  error: readErrors,
  stream: true
})

/** Projections' status. Projections read every tenant's events, so this needs the bootstrap key. */
export const GetProjections = Rpc.make("GetProjections", {
  payload: { names: Schema.optional(Schema.Array(Schema.String)) },
  success: Schema.Array(ProjectionStatus),
  error: Schema.Union(UnknownProjection, ProjectionsUnavailable, Forbidden)
})

const projectionErrors = Schema.Union(UnknownProjection, ProjectionsUnavailable, Forbidden)
const deadLetterErrors = Schema.Union(UnknownProjection, DeadLetterNotFound, ProjectionsUnavailable, Forbidden)
const projectionName = { name: Schema.String }
const parkedEvent = { projection: Schema.String, eventId: Schema.String }

/**
 * Stops a projection applying events until `ResumeProjection`; returns its status after. Bootstrap
 * key only, like every projection operation.
 *
 * @since 0.1.0
 */
export const PauseProjection = Rpc.make("PauseProjection", { payload: projectionName, success: ProjectionStatus, error: projectionErrors })

/**
 * Resumes a paused projection, or a strict one that failed (its event is tried again); returns its
 * status after.
 *
 * @since 0.1.0
 */
export const ResumeProjection = Rpc.make("ResumeProjection", { payload: projectionName, success: ProjectionStatus, error: projectionErrors })

/**
 * Starts filling a new read-model version from the start of the log while the current one serves;
 * the views swap to it when it reaches the head. `version` is the version being built (the same
 * one when a rebuild already runs). Follow it with `GetProjections`: its `rebuild.lagEvents`.
 *
 * @since 0.1.0
 */
export const RebuildProjection = Rpc.make("RebuildProjection", {
  payload: projectionName,
  success: Schema.Struct({ version: Schema.Number }),
  error: Schema.Union(UnknownProjection, RebuildNotSupported, ProjectionsUnavailable, Forbidden)
})

/**
 * Events the projections parked (of one projection when given), oldest first.
 *
 * @since 0.1.0
 */
export const ListDeadLetters = Rpc.make("ListDeadLetters", {
  payload: {
    projection: Schema.optional(Schema.String),
    status: Schema.optional(DeadLetter.fields.status),
    limit: Schema.optional(Schema.Number)
  },
  success: Schema.Array(DeadLetter),
  error: projectionErrors
})

/**
 * Asks the projection to apply a parked event again; its runner does it soon.
 *
 * @since 0.1.0
 */
export const RetryDeadLetter = Rpc.make("RetryDeadLetter", { payload: parkedEvent, error: deadLetterErrors })

/**
 * Gives up on a parked event for good.
 *
 * @since 0.1.0
 */
export const SkipDeadLetter = Rpc.make("SkipDeadLetter", { payload: parkedEvent, error: deadLetterErrors })

/**
 * One stream of a tenant, as `ListStreams` pages them: its version is its number of events.
 *
 * @since 0.1.0
 */
export const StreamInfo = Schema.Struct({
  streamName: Schema.String,
  category: Schema.String,
  version: Schema.Number,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
})
/** @since 0.1.0 */
export interface StreamInfo extends Schema.Schema.Type<typeof StreamInfo> {}

/**
 * A page of the caller's tenant's streams in name order (of one category, or whose names start
 * with `prefix`); `next` is the `after` of the following page, when there is one.
 *
 * @since 0.1.0
 */
export const ListStreams = Rpc.make("ListStreams", {
  payload: {
    ...tenant,
    category: Schema.optional(Schema.String),
    prefix: Schema.optional(Schema.String),
    after: Schema.optional(Schema.String),
    limit: Schema.optional(Schema.Number)
  },
  success: Schema.Struct({ streams: Schema.Array(StreamInfo), next: Schema.NullOr(Schema.String) }),
  error: readErrors
})

const workflowErrors = Schema.Union(UnknownWorkflow, ExecutionNotFound, InvalidExecutionState, WorkflowsUnavailable, Forbidden)
const executionTarget = { workflow: Schema.String, executionId: Schema.String }

/**
 * The node's workflows by name, and their executions newest first (of one workflow, in one
 * state, when given) with their triggering events. Bootstrap key only: workflows serve every
 * tenant.
 *
 * @since 0.1.0
 */
export const ListWorkflows = Rpc.make("ListWorkflows", {
  payload: { workflow: Schema.optional(Schema.String), state: Schema.optional(ExecutionState), limit: Schema.optional(Schema.Number) },
  success: Schema.Struct({ workflows: Schema.Array(Schema.String), executions: Schema.Array(WorkflowExecution) }),
  error: Schema.Union(UnknownWorkflow, WorkflowsUnavailable, Forbidden)
})

/**
 * Retries a failed execution: starts its next attempt, a new execution for the same triggering
 * event, and returns it. Retrying the same failed execution again returns the same attempt.
 *
 * @since 0.1.0
 */
export const RetryWorkflow = Rpc.make("RetryWorkflow", { payload: executionTarget, success: WorkflowExecution, error: workflowErrors })

/**
 * Cancels a running or suspended execution: it is interrupted and its compensations run.
 *
 * @since 0.1.0
 */
export const CancelWorkflow = Rpc.make("CancelWorkflow", { payload: executionTarget, success: WorkflowExecution, error: workflowErrors })

/** Creates an API key (admin of the tenant, or the bootstrap key for any tenant). */
export const CreateKey = Rpc.make("CreateKey", {
  payload: { ...tenant, role: Role, name: Schema.String },
  success: ApiKeyCreated,
  error: Schema.Union(Forbidden, InvalidArgument, StoreUnavailable)
})

/** Lists the keys of the caller's tenant (all tenants for the bootstrap key). */
export const ListKeys = Rpc.make("ListKeys", {
  payload: tenant,
  success: Schema.Array(ApiKeyInfo),
  error: Schema.Union(Forbidden, StoreUnavailable)
})

/** Revokes a key; calls with it fail from then on, on open connections too. */
export const RevokeKey = Rpc.make("RevokeKey", {
  payload: { id: Schema.String },
  success: ApiKeyInfo,
  error: Schema.Union(Forbidden, InvalidArgument, StoreUnavailable)
})

/**
 * @since 0.1.0
 */
export class RecountApi extends RpcGroup.make(
  Dispatch,
  DispatchBatch,
  GetState,
  StateAt,
  ReadStream,
  Subscribe,
  GetProjections,
  PauseProjection,
  ResumeProjection,
  RebuildProjection,
  ListDeadLetters,
  RetryDeadLetter,
  SkipDeadLetter,
  ListStreams,
  ListWorkflows,
  RetryWorkflow,
  CancelWorkflow,
  CreateKey,
  ListKeys,
  RevokeKey
).middleware(Authentication) {}
