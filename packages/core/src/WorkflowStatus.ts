/**
 * What operators see of workflow executions, and the typed errors of operating them. Plain
 * schemas, like `ProjectionStatus`: they cross the wire, and clients decode them without the
 * runtime.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * `running` (started, not suspended or finished), `suspended` (waiting on a timer or a signal),
 * `completed`, `failed` (its compensations have run).
 *
 * @since 0.1.0
 */
export const ExecutionState = Schema.Literal("running", "suspended", "completed", "failed")
/** @since 0.1.0 */
export type ExecutionState = typeof ExecutionState.Type

/**
 * The stored event that started an execution.
 *
 * @since 0.1.0
 */
export const TriggeringEvent = Schema.Struct({
  eventId: Schema.String,
  type: Schema.String,
  tenant: Schema.String,
  streamName: Schema.String,
  streamVersion: Schema.Number,
  recordedAt: Schema.Date
})
/** @since 0.1.0 */
export interface TriggeringEvent extends Schema.Schema.Type<typeof TriggeringEvent> {}

/**
 * One execution of a workflow.
 *
 * @since 0.1.0
 */
export const WorkflowExecution = Schema.Struct({
  workflow: Schema.String,
  executionId: Schema.String,
  state: ExecutionState,
  /** 1 for the execution an event started; a retry starts the next attempt as a new execution. */
  attempt: Schema.Number,
  /** The workflow's payload, as stored (its JSON encoding). */
  payload: Schema.Unknown,
  triggeringEventId: Schema.NullOr(Schema.String),
  /** Null when the execution was not started by an event, or the event is not in the store. */
  triggeringEvent: Schema.NullOr(TriggeringEvent),
  startedAt: Schema.Date,
  /** When it completed, failed or last suspended. */
  updatedAt: Schema.NullOr(Schema.Date),
  /** Why a failed execution failed: its error, on one line. */
  error: Schema.NullOr(Schema.String)
})
/** @since 0.1.0 */
export interface WorkflowExecution extends Schema.Schema.Type<typeof WorkflowExecution> {}

/**
 * No workflow of that name is registered on the node.
 *
 * @since 0.1.0
 */
export class UnknownWorkflow extends Schema.TaggedError<UnknownWorkflow>()("UnknownWorkflow", {
  workflow: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message() {
    return `unknown workflow ${this.workflow}; known: ${this.known.join(", ") || "none"}`
  }
}

/**
 * The workflow has no execution with that id.
 *
 * @since 0.1.0
 */
export class ExecutionNotFound extends Schema.TaggedError<ExecutionNotFound>()("ExecutionNotFound", {
  workflow: Schema.String,
  executionId: Schema.String
}) {
  override get message() {
    return `workflow ${this.workflow} has no execution ${this.executionId}`
  }
}

/**
 * The operation does not apply to the execution in its state (retrying one that did not fail,
 * cancelling one that has ended), or to this kind of workflow.
 *
 * @since 0.1.0
 */
export class InvalidExecutionState extends Schema.TaggedError<InvalidExecutionState>()("InvalidExecutionState", {
  workflow: Schema.String,
  executionId: Schema.String,
  state: ExecutionState,
  detail: Schema.String
}) {
  override get message() {
    return `execution ${this.executionId} of ${this.workflow} is ${this.state}: ${this.detail}`
  }
}

/**
 * The workflows' state could not be read or changed (the database failed).
 *
 * @since 0.1.0
 */
export class WorkflowsUnavailable extends Schema.TaggedError<WorkflowsUnavailable>()("WorkflowsUnavailable", {
  detail: Schema.String
}) {
  override get message() {
    return `workflows are unavailable: ${this.detail}`
  }
}
