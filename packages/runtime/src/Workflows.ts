/**
 * The node's workflows by name, and their operations: list executions by state with their
 * triggering events, retry a failed one, cancel one. A node otherwise knows its workflows only
 * as layers; registering each with its workflow (`register`) is what lets an operator, the API or
 * the CLI find one by its name.
 *
 * ```ts
 * const Live = RecountNode.layerSingle({
 *   aggregates: [Order],
 *   workflows: [Workflows.register(Fulfil, FulfilLive)]
 * })
 * const workflows = yield* Workflows.Workflows
 * yield* workflows.executions({ workflow: "Fulfil", state: "failed" })
 * yield* workflows.retry("Fulfil", executionId) // a new attempt; the failed one stays listed
 * ```
 *
 * @since 0.1.0
 */
import type * as Workflow from "@effect/workflow/Workflow"
import { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqlClient from "@effect/sql/SqlClient"
import {
  ExecutionNotFound,
  type ExecutionState,
  InvalidExecutionState,
  UnknownWorkflow,
  type WorkflowExecution,
  WorkflowsUnavailable
} from "@recount/core/WorkflowStatus"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { CommandBus } from "./CommandBus.js"
import * as Executions from "./internal/executions.js"
import * as StorageOutage from "./internal/storageOutage.js"

/**
 * A workflow and the layer that implements it, as a node registers it.
 *
 * @since 0.1.0
 */
export interface Registration {
  readonly name: string
  /** `workflow.toLayer(...)`: it may use the `CommandBus`. */
  readonly layer: Layer.Layer<never, never, WorkflowEngine | CommandBus>
  /** Starts the execution for an encoded payload (idempotent by the workflow's key). */
  readonly start: (payload: unknown) => Effect.Effect<string, unknown, WorkflowEngine>
  readonly interrupt: (executionId: string) => Effect.Effect<void, never, WorkflowEngine>
  /** Whether a failed execution can be retried: the workflow keys executions by attempt. */
  readonly retryable: boolean
}

/**
 * Pairs a workflow with its implementation for `App.workflows`.
 *
 * @since 0.1.0
 */
// `any` only in the constraint: a workflow's `execute` takes its own payload, so no narrower
// common type accepts every workflow.
export const register = <W extends Workflow.Workflow<string, any, any, any>>(
  workflow: W,
  layer: Layer.Layer<never, never, WorkflowEngine | CommandBus>
): Registration => ({
  name: workflow.name,
  // On an engine that waits out a storage outage: ClusterWorkflowEngine would store a failed
  // journal write as the workflow's final result (see internal/storageOutage.ts).
  layer: Layer.provide(layer, StorageOutage.layer),
  start: (payload) =>
    Effect.flatMap(
      Schema.decodeUnknown(workflow.payloadSchema as unknown as Schema.Schema<unknown, unknown>)(payload),
      (decoded) => (workflow.execute as (p: unknown, o: { readonly discard: true }) => Effect.Effect<string, never, WorkflowEngine>)(decoded, { discard: true })
    ),
  interrupt: (executionId) => workflow.interrupt(executionId),
  retryable: "attempt" in workflow.payloadSchema.fields && "triggeringEventId" in workflow.payloadSchema.fields
})

/** What `executions` lists; every workflow's executions when `workflow` is absent. */
export interface ExecutionQuery {
  readonly workflow?: string | undefined
  readonly state?: ExecutionState | undefined
  /** At most this many, newest first (default 100, at most 1,000). */
  readonly limit?: number | undefined
}

/**
 * @since 0.1.0
 */
export class Workflows extends Context.Tag("@recount/runtime/Workflows")<Workflows, {
  /** The registered workflows' names. */
  readonly names: ReadonlyArray<string>
  readonly executions: (query?: ExecutionQuery) => Effect.Effect<ReadonlyArray<WorkflowExecution>, UnknownWorkflow | WorkflowsUnavailable>
  readonly execution: (workflow: string, executionId: string) => Effect.Effect<WorkflowExecution, UnknownWorkflow | ExecutionNotFound | WorkflowsUnavailable>
  /**
   * Starts the next attempt of a failed execution: a new execution with the same payload and
   * triggering event (its compensations ran when it failed, so the next attempt starts over; its
   * commands get new ids). Retrying the same failed execution again returns the same attempt.
   */
  readonly retry: (workflow: string, executionId: string) => Effect.Effect<WorkflowExecution, WorkflowOperationError>
  /** Interrupts a running or suspended execution; its compensations run. */
  readonly cancel: (workflow: string, executionId: string) => Effect.Effect<WorkflowExecution, WorkflowOperationError>
}>() {}

/** @since 0.1.0 */
export type WorkflowOperationError = UnknownWorkflow | ExecutionNotFound | InvalidExecutionState | WorkflowsUnavailable

const unavailable = (e: SqlError) => new WorkflowsUnavailable({ detail: e.message })

/**
 * The registry and operations over the given registrations.
 *
 * @since 0.1.0
 */
export const make = (registrations: ReadonlyArray<Registration>) =>
  Effect.gen(function*() {
    const byName = new Map(registrations.map((r) => [r.name, r]))
    if (byName.size < registrations.length) {
      return yield* Effect.dieMessage(`workflow names must be unique; registered: ${registrations.map((r) => r.name).join(", ")}`)
    }
    const context = yield* Effect.context<WorkflowEngine | SqlClient.SqlClient>()
    const names = [...byName.keys()].sort()
    const find = (name: string) => {
      const registration = byName.get(name)
      return registration ? Effect.succeed(registration) : Effect.fail(new UnknownWorkflow({ workflow: name, known: names }))
    }
    const list = (query: Executions.Query) => Executions.list(query).pipe(Effect.mapError(unavailable), Effect.provide(context))
    const execution = (workflow: string, executionId: string) =>
      Effect.gen(function*() {
        yield* find(workflow)
        const [found] = yield* list({ workflows: [workflow], executionId, limit: 1 })
        return found ?? (yield* new ExecutionNotFound({ workflow, executionId }))
      })
    // The engine's operations end as defects when the database fails; the operator gets a typed error.
    const engineCall = <A>(effect: Effect.Effect<A, unknown, WorkflowEngine>) =>
      effect.pipe(
        Effect.provide(context),
        Effect.catchAllCause((cause) => Effect.fail(new WorkflowsUnavailable({ detail: String(cause).split("\n")[0]! })))
      )
    /** Waits briefly for the engine to record a new execution, so the caller sees it listed. */
    const settled = (workflow: string, executionId: string) =>
      Effect.retry(execution(workflow, executionId), {
        while: (e) => e._tag === "ExecutionNotFound",
        schedule: Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(40)))
      })

    return Workflows.of({
      names,
      executions: (query) =>
        Effect.gen(function*() {
          if (query?.workflow !== undefined) yield* find(query.workflow)
          return yield* list({
            workflows: query?.workflow !== undefined ? [query.workflow] : names,
            state: query?.state,
            limit: Math.max(1, Math.floor(Math.min(query?.limit ?? 100, 1000))) || 100
          })
        }),
      execution,
      retry: (workflow, executionId) =>
        Effect.gen(function*() {
          const registration = yield* find(workflow)
          const failed = yield* execution(workflow, executionId)
          if (failed.state !== "failed") {
            return yield* new InvalidExecutionState({ workflow, executionId, state: failed.state, detail: "only a failed execution can be retried" })
          }
          if (!registration.retryable) {
            return yield* new InvalidExecutionState({
              workflow,
              executionId,
              state: failed.state,
              detail: "only workflows made with EventWorkflow.make can be retried (their executions are keyed by attempt)"
            })
          }
          const next = yield* engineCall(registration.start({ ...(failed.payload as object), attempt: failed.attempt + 1 }))
          return yield* settled(workflow, next)
        }),
      cancel: (workflow, executionId) =>
        Effect.gen(function*() {
          const registration = yield* find(workflow)
          const current = yield* execution(workflow, executionId)
          if (current.state === "completed" || current.state === "failed") {
            return yield* new InvalidExecutionState({ workflow, executionId, state: current.state, detail: "it has ended; only a running or suspended execution can be cancelled" })
          }
          yield* engineCall(registration.interrupt(executionId))
          return current
        })
    })
  })

/**
 * Provides `Workflows` over the registrations (part of every node layer).
 *
 * @since 0.1.0
 */
export const layer = (registrations: ReadonlyArray<Registration>): Layer.Layer<Workflows, never, WorkflowEngine | SqlClient.SqlClient> =>
  Layer.effect(Workflows, make(registrations))
