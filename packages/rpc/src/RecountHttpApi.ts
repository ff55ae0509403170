/**
 * The plain HTTP+JSON face of the API, for clients that do not use Effect (`curl` works), built
 * with `HttpApi` from the same schemas as the RPC protocol. Its OpenAPI document is served at
 * `/openapi.json`. Client-safe, like `RecountApi`.
 *
 * ```sh
 * curl -X POST http://127.0.0.1:8080/v1/default/aggregates/account/42/commands \
 *   -H "Authorization: Bearer $KEY" -H "Idempotency-Key: c-1" \
 *   -d '{"_tag":"Deposit","amount":10}'
 * curl http://127.0.0.1:8080/v1/default/aggregates/account/42/state -H "Authorization: Bearer $KEY"
 * ```
 *
 * @since 0.1.0
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, HttpApiSecurity } from "@effect/platform"
import { StateView } from "@recount/core/CommandResult"
import {
  AggregateUnavailable,
  CommandConflict,
  CommandTimeout,
  InvalidCommand,
  ProjectionsUnavailable,
  UnknownProjection
} from "@recount/core/DispatchError"
import { InvalidArgument, InvalidStreamName, StoreUnavailable } from "@recount/core/EventStoreError"
import { ProjectionStatus } from "@recount/core/ProjectionStatus"
import {
  ExecutionNotFound,
  ExecutionState,
  InvalidExecutionState,
  UnknownWorkflow,
  WorkflowExecution,
  WorkflowsUnavailable
} from "@recount/core/WorkflowStatus"
import * as Schema from "effect/Schema"
import { DispatchResult, DomainError, Forbidden, LimitExceeded, Principal, StreamInfo, Unauthorized, WireEvent } from "./RecountApi.js"

/**
 * The bearer key of every request, checked like the RPC protocol's.
 *
 * @since 0.1.0
 */
export class HttpAuthentication extends HttpApiMiddleware.Tag<HttpAuthentication>()("HttpAuthentication", {
  failure: Unauthorized.annotations(HttpApiSchema.annotations({ status: 401 })),
  provides: Principal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

const AggregatePath = Schema.Struct({ tenant: Schema.String, name: Schema.String, id: Schema.String })

/**
 * `POST /v1/{tenant}/aggregates/{name}/{id}/commands`: the body is the command as JSON with its
 * `_tag`; `Idempotency-Key` is the command id; `?consistency=strong` waits for projections.
 */
export const dispatch = HttpApiEndpoint.post("dispatch", "/v1/:tenant/aggregates/:name/:id/commands")
  .setPath(AggregatePath)
  .setPayload(Schema.Unknown)
  .setHeaders(Schema.Struct({ "idempotency-key": Schema.optional(Schema.String) }))
  .setUrlParams(Schema.Struct({
    consistency: Schema.optional(Schema.Literal("eventual", "strong")),
    timeoutMillis: Schema.optional(Schema.NumberFromString)
  }))
  .addSuccess(DispatchResult)

/** `GET /v1/{tenant}/aggregates/{name}/{id}/state[?version=n|time=iso]`. */
export const state = HttpApiEndpoint.get("state", "/v1/:tenant/aggregates/:name/:id/state")
  .setPath(AggregatePath)
  .setUrlParams(Schema.Struct({ version: Schema.optional(Schema.NumberFromString), time: Schema.optional(Schema.Date) }))
  .addSuccess(StateView)

/** `GET /v1/{tenant}/streams/{stream}[?from=n&direction=backward&limit=n]`: one page. */
export const stream = HttpApiEndpoint.get("stream", "/v1/:tenant/streams/:stream")
  .setPath(Schema.Struct({ tenant: Schema.String, stream: Schema.String }))
  .setUrlParams(Schema.Struct({
    from: Schema.optional(Schema.NumberFromString),
    direction: Schema.optional(Schema.Literal("forward", "backward")),
    limit: Schema.optional(Schema.NumberFromString)
  }))
  .addSuccess(Schema.Struct({ events: Schema.Array(WireEvent), next: Schema.NullOr(Schema.Number) }))

/** `GET /v1/projections`: status of every projection (bootstrap key only). */
export const projections = HttpApiEndpoint.get("projections", "/v1/projections").addSuccess(Schema.Array(ProjectionStatus))

/** `GET /v1/{tenant}/streams[?category=c&prefix=p&after=name&limit=n]`: one page of the tenant's streams. */
export const streams = HttpApiEndpoint.get("streams", "/v1/:tenant/streams")
  .setPath(Schema.Struct({ tenant: Schema.String }))
  .setUrlParams(Schema.Struct({
    category: Schema.optional(Schema.String),
    prefix: Schema.optional(Schema.String),
    after: Schema.optional(Schema.String),
    limit: Schema.optional(Schema.NumberFromString)
  }))
  .addSuccess(Schema.Struct({ streams: Schema.Array(StreamInfo), next: Schema.NullOr(Schema.String) }))

/** `GET /v1/workflows[?workflow=name&state=failed&limit=n]`: workflows and executions (bootstrap key only). */
export const workflows = HttpApiEndpoint.get("workflows", "/v1/workflows")
  .setUrlParams(Schema.Struct({
    workflow: Schema.optional(Schema.String),
    state: Schema.optional(ExecutionState),
    limit: Schema.optional(Schema.NumberFromString)
  }))
  .addSuccess(Schema.Struct({ workflows: Schema.Array(Schema.String), executions: Schema.Array(WorkflowExecution) }))

const ExecutionPath = Schema.Struct({ workflow: Schema.String, executionId: Schema.String })

/** `POST /v1/workflows/{workflow}/executions/{executionId}/retry`: starts a failed execution's next attempt. */
export const retryWorkflow = HttpApiEndpoint.post("retryWorkflow", "/v1/workflows/:workflow/executions/:executionId/retry")
  .setPath(ExecutionPath)
  .addSuccess(WorkflowExecution)

/** `POST /v1/workflows/{workflow}/executions/{executionId}/cancel`: interrupts it; its compensations run. */
export const cancelWorkflow = HttpApiEndpoint.post("cancelWorkflow", "/v1/workflows/:workflow/executions/:executionId/cancel")
  .setPath(ExecutionPath)
  .addSuccess(WorkflowExecution)

/** @since 0.1.0 */
export class RecountHttpGroup extends HttpApiGroup.make("recount")
  .add(dispatch)
  .add(state)
  .add(stream)
  .add(projections)
  .add(streams)
  .add(workflows)
  .add(retryWorkflow)
  .add(cancelWorkflow)
  .addError(InvalidCommand, { status: 400 })
  .addError(InvalidStreamName, { status: 400 })
  .addError(InvalidArgument, { status: 400 })
  .addError(LimitExceeded, { status: 400 })
  .addError(Forbidden, { status: 403 })
  .addError(UnknownProjection, { status: 404 })
  .addError(UnknownWorkflow, { status: 404 })
  .addError(ExecutionNotFound, { status: 404 })
  .addError(InvalidExecutionState, { status: 409 })
  .addError(WorkflowsUnavailable, { status: 503 })
  .addError(CommandConflict, { status: 409 })
  .addError(DomainError, { status: 422 })
  .addError(AggregateUnavailable, { status: 503 })
  .addError(ProjectionsUnavailable, { status: 503 })
  .addError(StoreUnavailable, { status: 503 })
  .addError(CommandTimeout, { status: 504 })
  .middleware(HttpAuthentication)
{}

/** @since 0.1.0 */
export class RecountHttpApi extends HttpApi.make("recount").add(RecountHttpGroup) {}
