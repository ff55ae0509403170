/**
 * Workflows that events start, on `@effect/workflow` and `ClusterWorkflowEngine`: durable, and
 * started exactly once per triggering event. A trigger follows the log like a projection, with
 * its own checkpoint; the workflow's idempotency key is the triggering event's id, so replaying
 * the log, a crash between starting and checkpointing, or two nodes racing never start a second
 * execution. Activities that dispatch commands derive the command id from the execution id and
 * the step, so a re-run activity never applies a command twice.
 *
 * @since 0.1.0
 */
import * as Activity from "@effect/workflow/Activity"
import * as Workflow from "@effect/workflow/Workflow"
import { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import type * as Aggregate from "@recount/core/Aggregate"
import { CommandResult } from "@recount/core/CommandResult"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import type * as EventRegistry from "@recount/core/EventRegistry"
import * as Tracing from "@recount/core/Tracing"
import type { ExecutionState } from "@recount/core/WorkflowStatus"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { CommandBus } from "./CommandBus.js"
import { whileShardHeld } from "./internal/activityHandoff.js"
import * as RecountMetrics from "./RecountMetrics.js"
import * as Executions from "./internal/executions.js"
import * as Projection from "./Projection.js"

/**
 * A workflow started by events: its payload has `triggeringEventId`, which is its idempotency key,
 * and `attempt`, which a retry of a failed execution sets (2, 3, ...) to start the next attempt as
 * a new execution.
 *
 * @since 0.1.0
 */
export const make = <
  const Name extends string,
  const Fields extends Schema.Struct.Fields,
  Success extends Schema.Schema.Any = typeof Schema.Void,
  Error extends Schema.Schema.All = typeof Schema.Never
>(options: {
  readonly name: Name
  readonly payload: Fields
  readonly success?: Success
  readonly error?: Error
}) =>
  Workflow.make({
    name: options.name,
    payload: { ...options.payload, ...keyFields } as Fields & typeof keyFields,
    // The payload always carries the key fields: they are part of the schema built just above.
    idempotencyKey: (payload) => keyOf(payload as unknown as { readonly triggeringEventId: string; readonly attempt?: number | undefined }),
    success: options.success as Success,
    error: options.error as Error
  })

const keyFields = { triggeringEventId: Schema.String, attempt: Schema.optional(Schema.Number) }

// The first attempt keeps the plain event id as its key, as executions started before retries existed.
const keyOf = (p: { readonly triggeringEventId: string; readonly attempt?: number | undefined }) =>
  p.attempt === undefined || p.attempt <= 1 ? p.triggeringEventId : `${p.triggeringEventId}/attempt-${p.attempt}`

/** A workflow made by `make`. */
export type Any = Workflow.Workflow<string, Schema.Struct<typeof keyFields>, Schema.Schema.Any, Schema.Schema.All>

/** The payload a trigger builds: the workflow's, without the triggering event id and attempt. */
export type PayloadOf<W> = W extends Workflow.Workflow<string, infer P, infer _S, infer _E>
  ? Omit<Schema.Struct.Constructor<P extends Schema.Struct<infer F> ? F : never>, "triggeringEventId" | "attempt">
  : never

/**
 * Which events start a workflow, and with what payload.
 *
 * @since 0.1.0
 */
export interface Trigger {
  readonly name: string
  readonly toProjection: (engine: WorkflowEngine["Type"]) => Projection.Projection<unknown>
}

/**
 * Starts `workflow` for each event of the given types (and categories): once per event.
 *
 * @since 0.1.0
 */
export const trigger = <E extends { readonly _tag: string }, W extends Workflow.Workflow<string, any, any, any>>(
  workflow: W,
  options: {
    /** Names the trigger's checkpoint; defaults to `start-<workflow name>`. */
    readonly name?: string | undefined
    readonly events: EventRegistry.EventRegistry<E>
    readonly eventTypes?: ReadonlyArray<E["_tag"]> | undefined
    readonly categories?: ReadonlyArray<string> | undefined
    readonly payload: (event: E, envelope: RecordedEvent) => PayloadOf<W>
  }
): Trigger => {
  const name = options.name ?? `start-${workflow.name}`
  return {
    name,
    // Like a side effect (at least once, outside the checkpoint's transaction), but the events of
    // a batch start their workflows concurrently: each start is idempotent by its event id, and
    // one at a time they queue behind the engine's round trips.
    toProjection: (engine) =>
      Projection.build<E>(
        { name, events: options.events, eventTypes: options.eventTypes, categories: options.categories, batchSize: 64 },
        (events) =>
          Effect.forEach(events, ({ envelope, event }) =>
            workflow.execute({ ...options.payload(event, envelope), triggeringEventId: envelope.eventId }, { discard: true }), {
            concurrency: 16,
            discard: true
          }).pipe(Effect.provideService(WorkflowEngine, engine)) as Effect.Effect<void>,
        false
      ) as Projection.Projection<unknown>
  }
}

const transient = new Set(["CommandTimeout", "AggregateUnavailable", "CommandConflict"])

/**
 * An activity that dispatches a command from inside a workflow. Its command id is
 * `<execution id>/<step>`, so a re-run (after a crash, on another node) returns the first
 * result instead of applying the command again. Domain errors fail the activity (and are
 * journaled); delivery errors are retried, then end the workflow as a defect.
 *
 * @since 0.1.0
 */
export const dispatch = <A extends Aggregate.Any>(
  aggregate: A,
  aggregateId: string,
  command: Aggregate.CommandOf<A>,
  options: { readonly step: string; readonly tenant?: string | undefined }
) =>
  whileShardHeld(Effect.gen(function*() {
    const instance = yield* WorkflowInstance
    const bus = yield* CommandBus
    const tracing = yield* Tracing.Tracing
    const commandId = `${instance.executionId}/${options.step}`
    const activities = RecountMetrics.labelled(RecountMetrics.workflowActivities, { workflow: instance.workflow.name, outcome: "ok" })
    const failures = RecountMetrics.labelled(RecountMetrics.workflowActivities, { workflow: instance.workflow.name, outcome: "failed" })
    return yield* Activity.make({
      name: options.step,
      success: CommandResult,
      error: aggregate.errors as Schema.Schema<Aggregate.ErrorOf<A>, unknown>,
      // The engine runs an activity uninterruptibly. A dispatch that waits on a shard (every
      // runner lost its shard locks to a database restart) would then never end, nor let its
      // timeout fire, and the runner's forced shard release waits on it: no runner took its shards
      // back, ever. Interrupted, the command is re-sent later with the same id (idempotent).
      execute: Effect.interruptible(bus.dispatch(aggregate, aggregateId, command, { commandId, tenant: options.tenant })).pipe(
        Effect.retry({
          while: (e) => typeof e === "object" && e !== null && "_tag" in e && transient.has(String(e._tag)),
          schedule: Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(8)))
        }),
        Effect.catchIf(
          (e): e is Exclude<typeof e, Aggregate.ErrorOf<A>> => !Schema.is(aggregate.errors)(e),
          (e) => Effect.die(e)
        ),
        Effect.map(({ projections: _, ...result }) => result),
        Effect.onExit((exit) => Effect.sync(() => (exit._tag === "Success" ? activities : failures).unsafeUpdate(1, []))),
        (effect) =>
          tracing.enabled
            ? Effect.withSpan(effect, "recount.workflow.activity", {
              attributes: {
                "recount.workflow": instance.workflow.name,
                "recount.execution_id": instance.executionId,
                "recount.step": options.step,
                "recount.aggregate": aggregate.name,
                "recount.aggregate_id": aggregateId,
                "recount.command_id": commandId
              }
            })
            : effect
      ) as Effect.Effect<CommandResult, Aggregate.ErrorOf<A>>
    })
  }))

/**
 * One execution of a workflow, as `executions` lists it.
 *
 * @since 0.1.0
 */
export interface Execution {
  readonly executionId: string
  /** The triggering event, for workflows made by `make`. */
  readonly triggeringEventId: string | undefined
  readonly payload: unknown
  /** `running` (started, not suspended or finished), `suspended` (waiting on a timer or signal), `completed`, `failed`. */
  readonly status: ExecutionState
}

/**
 * The executions of a workflow, newest first (at most `limit`, default 100), read from the
 * cluster's message tables, where the engine keeps them. `Workflows.executions` gives more: the
 * triggering event itself, times, the error, a filter by state.
 *
 * @since 0.1.0
 */
export const executions = <W extends Workflow.Workflow<string, any, any, any>>(workflow: W, options?: { readonly limit?: number | undefined }) =>
  Effect.map(Executions.list({ workflows: [workflow.name], limit: options?.limit ?? 100 }), (all) =>
    all.map((x): Execution => ({
      executionId: x.executionId,
      triggeringEventId: x.triggeringEventId ?? undefined,
      payload: x.payload,
      status: x.state
    })))

/**
 * Cancels an execution: it is interrupted and its compensations run.
 *
 * @since 0.1.0
 */
export const cancel = <W extends Workflow.Workflow<string, any, any, any>>(workflow: W, executionId: string) => workflow.interrupt(executionId)

/**
 * A journaled step of a workflow (a read, a call): it runs once, and a resumed or re-run workflow
 * gets its recorded result instead of running it again.
 *
 * @since 0.1.0
 */
export const step = <A, I, R>(name: string, success: Schema.Schema<A, I>, execute: Effect.Effect<A, never, R>) =>
  whileShardHeld(Activity.make({ name, success, execute }))
