import type * as Headers from "@effect/platform/Headers"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import type { RpcGroup } from "@effect/rpc"
import type * as Aggregate from "@recount/core/Aggregate"
import { AggregateUnavailable, InvalidCommand, ProjectionsUnavailable } from "@recount/core/DispatchError"
import { StoreUnavailable } from "@recount/core/EventStoreError"
import * as Tracing from "@recount/core/Tracing"
import { WorkflowsUnavailable } from "@recount/core/WorkflowStatus"
import type * as SqlClient from "@effect/sql/SqlClient"
import { EventStore } from "@recount/core/EventStore"
import type { SnapshotStore } from "@recount/core/SnapshotStore"
import * as AggregateHistory from "@recount/runtime/AggregateHistory"
import { CommandBus } from "@recount/runtime/CommandBus"
import { Projections } from "@recount/runtime/Projections"
import * as StreamCatalog from "@recount/runtime/StreamCatalog"
import { Workflows } from "@recount/runtime/Workflows"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { ApiConfig } from "../ApiConfig.js"
import * as FanOut from "./fanOut.js"
import type { Outcome } from "./outcome.js"
import { allTenants, ApiKeys } from "../ApiKeys.js"
import { type DispatchPayload, type DispatchResult, DomainError, Forbidden, LimitExceeded, Principal, RecountApi, type Role } from "../RecountApi.js"

const rank: Record<Role, number> = { read: 0, write: 1, admin: 2 }

/** The tenant a call acts in: the key's own, or any for the bootstrap key. */
export const tenantFor = (principal: Principal["Type"], requested: string | undefined, need: Role, action: string) => {
  if (rank[principal.role] < rank[need]) return Either.left(new Forbidden({ reason: `a ${principal.role} key cannot ${action}` }))
  if (principal.tenant === allTenants) return Either.right(requested ?? "default")
  if (requested !== undefined && requested !== principal.tenant) return Either.left(new Forbidden({ reason: "the key belongs to another tenant" }))
  return Either.right(principal.tenant)
}

/** The RPC header of a dispatch's correlation id (`RecountClient`'s `correlationId` option). */
const correlationIdHeader = "recount-correlation-id"

/**
 * The RPC library's spans are off (see RecountServer), so the client's trace arrives as a
 * `traceparent` header of the call, and the command's span (or, untraced, its events) continue it.
 * Without one, a traced command starts its own trace: over WebSocket the span in context is the
 * connection's, and every command of the connection would land in that one trace.
 */
const withCallerTrace = (traced: boolean, headers: Headers.Headers | undefined) => <A, E, R>(effect: Effect.Effect<A, E, R>) => {
  if (headers === undefined) return effect // the HTTP face: the request's own span is the parent
  const parent = headers["traceparent"] === undefined ? Option.none() : HttpTraceContext.w3c(headers)
  if (parent._tag === "Some") return Effect.withParentSpan(effect, parent.value)
  return traced ? Effect.mapInputContext(effect, (context: Context.Context<R>) => Context.omit(Tracer.ParentSpan)(context) as Context.Context<R>) : effect
}

const ourErrors = new Set(["InvalidCommand", "CommandConflict", "CommandTimeout", "AggregateUnavailable", "UnknownProjection", "ProjectionsUnavailable"])
const tagOf = (e: unknown) => typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : undefined

/** States cross the wire in their snapshot encoding when the aggregate has one. */
const encodeState = (aggregate: Aggregate.Any, state: unknown) =>
  aggregate.snapshot ? Schema.encodeUnknownEither(aggregate.snapshot.schema)(state).pipe(Either.getOrElse(() => state)) : state

/**
 * `DispatchBatch` from a dispatch of one command: every command at once, each outcome `Right` or `Left`
 * (so that one command's error is its caller's alone). The batch's headers are each command's.
 */
export const batch = <E, R>(dispatch: (p: DispatchPayload, options?: { readonly headers: Headers.Headers }) => Effect.Effect<DispatchResult, E, R>) =>
(p: { readonly commands: ReadonlyArray<DispatchPayload> }, options?: { readonly headers: Headers.Headers }): Effect.Effect<Array<Outcome<DispatchResult, E>>, never, R> =>
  FanOut.all(p.commands.map((command) => dispatch(command, options)))

/**
 * The API's operations, shared by the RPC protocol and the HTTP face. Each checks the caller's
 * role and tenant first. A client that goes away mid-command interrupts only its wait: an
 * instance's mailbox drops a command that has not started and runs a started one to its end
 * (`CommandBus`), so a retry with its id finds the result.
 */
export const operations = Effect.gen(function*() {
  const bus = yield* CommandBus
  const store = yield* EventStore
  const projections = yield* Projections
  const keys = yield* ApiKeys
  const config = yield* ApiConfig
  const tracing = yield* Tracing.Tracing
  const context = yield* Effect.context<SnapshotStore | EventStore | SqlClient.SqlClient>()
  const workflows = yield* Workflows
  const subscriptions = new Map<number, number>()

  const aggregateNamed = (name: string) => {
    const aggregate = bus.aggregates.get(name)
    return aggregate
      ? Either.right(aggregate)
      : Either.left(new InvalidCommand({ aggregate: name, detail: `unknown aggregate; known: ${[...bus.aggregates.keys()].join(", ")}` }))
  }
  const requestMillis = Duration.toMillis(config.requestTimeout)
  const readTimeout = (operation: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.timeoutFail(effect, {
      duration: config.requestTimeout,
      onTimeout: () => new StoreUnavailable({ operation, detail: `no answer within the request timeout of ${requestMillis} ms` })
    })

  // Projections read every tenant's events, so operating them is for the bootstrap key alone.
  const bootstrapOnly = (what: string) =>
    Effect.flatMap(Principal, (principal) =>
      principal.tenant === allTenants
        ? Effect.void
        : Effect.fail(new Forbidden({ reason: `projections read every tenant's events; ${what} needs the bootstrap admin key` })))
  const statusOf = (name: string) => Effect.map(projections.status([name]), (all) => all[0]!)
  // Workflows serve every tenant (their executions are not per tenant): the bootstrap key's, too.
  const workflowsBootstrapOnly = (what: string) =>
    Effect.flatMap(Principal, (principal) =>
      principal.tenant === allTenants
        ? Effect.void
        : Effect.fail(new Forbidden({ reason: `workflows serve every tenant; ${what} needs the bootstrap admin key` })))
  const workflowTimeout = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.timeoutFail(effect, {
      duration: config.requestTimeout,
      onTimeout: () => new WorkflowsUnavailable({ detail: `no answer within the request timeout of ${requestMillis} ms` })
    })

  // Every command takes this path: steps rather than a generator.
  const dispatch = (p: DispatchPayload, options?: { readonly headers: Headers.Headers }) =>
    Effect.flatMap(Effect.flatMap(Principal, (principal) => tenantFor(principal, p.tenant, "write", "dispatch commands")), (tenant) => {
      const aggregate = bus.aggregates.get(p.aggregate)
      const consistency = p.consistency === undefined || typeof p.consistency === "string"
        ? p.consistency
        : { projections: p.consistency.projections, timeout: p.consistency.timeoutMillis ?? undefined }
      return bus.dispatchUnknown(p.aggregate, p.id, p.command, {
        tenant,
        commandId: p.commandId,
        correlationId: options?.headers[correlationIdHeader],
        consistency,
        timeout: Math.min(p.timeoutMillis ?? requestMillis, requestMillis)
      }).pipe(
        Effect.catchAll((e): Effect.Effect<never, DomainError | InvalidCommand | AggregateUnavailable> => {
          if (aggregate && Schema.is(aggregate.errors)(e)) {
            return Effect.fail(new DomainError({ aggregate: aggregate.name, error: Schema.encodeUnknownSync(aggregate.errors)(e) }))
          }
          const tag = tagOf(e)
          return tag !== undefined && ourErrors.has(tag)
            ? Effect.fail(e as InvalidCommand)
            : Effect.fail(new AggregateUnavailable({ aggregate: p.aggregate, aggregateId: p.id, detail: String(e) }))
        })
      )
    }).pipe(withCallerTrace(tracing.enabled, options?.headers))

  return {
    Dispatch: dispatch,

    GetState: (p) =>
      Effect.gen(function*() {
        const tenant = yield* tenantFor(yield* Principal, p.tenant, "read", "read state")
        const aggregate = yield* aggregateNamed(p.aggregate)
        const view = yield* bus.getState(aggregate, p.id, { tenant, timeout: requestMillis })
        return { version: view.version, state: encodeState(aggregate, view.state) }
      }),

    StateAt: (p) =>
      Effect.gen(function*() {
        const tenant = yield* tenantFor(yield* Principal, p.tenant, "read", "read state")
        const aggregate = yield* aggregateNamed(p.aggregate)
        const at = yield* AggregateHistory.stateAt(aggregate, p.id, { tenant, version: p.version, time: p.time }).pipe(
          Effect.catchTag("EventDecodeError", (e) => Effect.fail(new AggregateUnavailable({ aggregate: p.aggregate, aggregateId: p.id, detail: e.message }))),
          Effect.provide(context),
          readTimeout("stateAt")
        )
        return { version: at.version, state: encodeState(aggregate, at.state) }
      }),

    ReadStream: (p) =>
      Effect.gen(function*() {
        const tenant = yield* tenantFor(yield* Principal, p.tenant, "read", "read streams")
        const limit = Math.min(p.limit ?? config.maxPageSize, config.maxPageSize)
        const events = yield* store.readStream(p.stream, { tenant, fromVersion: p.fromVersion, direction: p.direction, limit }).pipe(
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray),
          readTimeout("readStream")
        )
        const last = events[events.length - 1]
        const next = events.length < limit || !last ? null : p.direction === "backward" ? (last.streamVersion > 1 ? last.streamVersion - 1 : null) : last.streamVersion + 1
        return { events, next }
      }),

    Subscribe: (p, { clientId }) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const tenant = yield* tenantFor(yield* Principal, p.tenant, "read", "subscribe")
        const open = subscriptions.get(clientId) ?? 0
        if (open >= config.maxSubscriptionsPerConnection) {
          return yield* new LimitExceeded({ limit: "open subscriptions per connection", max: config.maxSubscriptionsPerConnection })
        }
        yield* Effect.acquireRelease(
          Effect.sync(() => subscriptions.set(clientId, open + 1)),
          () => Effect.sync(() => {
            const now = (subscriptions.get(clientId) ?? 1) - 1
            if (now <= 0) subscriptions.delete(clientId)
            else subscriptions.set(clientId, now)
          })
        )
        return store.subscribe({ tenant, categories: p.categories, eventTypes: p.eventTypes, after: p.after })
      })),

    GetProjections: (p) =>
      Effect.zipRight(
        bootstrapOnly("their status"),
        Effect.timeoutFail(projections.status(p.names), {
          duration: config.requestTimeout,
          onTimeout: () => new ProjectionsUnavailable({ detail: `no answer within the request timeout of ${requestMillis} ms` })
        })
      ),

    PauseProjection: (p) => Effect.zipRight(bootstrapOnly("pausing them"), Effect.zipRight(projections.pause(p.name), statusOf(p.name))),

    ResumeProjection: (p) => Effect.zipRight(bootstrapOnly("resuming them"), Effect.zipRight(projections.resume(p.name), statusOf(p.name))),

    RebuildProjection: (p) =>
      Effect.zipRight(bootstrapOnly("rebuilding them"), Effect.map(projections.rebuild(p.name), (version) => ({ version }))),

    ListDeadLetters: (p) =>
      Effect.zipRight(
        bootstrapOnly("their parked events"),
        projections.deadLetters.list({ projection: p.projection, status: p.status, limit: p.limit === undefined ? undefined : Math.min(p.limit, 10_000) })
      ),

    RetryDeadLetter: (p) => Effect.zipRight(bootstrapOnly("retrying their parked events"), projections.deadLetters.retry(p.projection, p.eventId)),

    SkipDeadLetter: (p) => Effect.zipRight(bootstrapOnly("skipping their parked events"), projections.deadLetters.skip(p.projection, p.eventId)),

    ListStreams: (p) =>
      Effect.gen(function*() {
        const tenant = yield* tenantFor(yield* Principal, p.tenant, "read", "list streams")
        return yield* StreamCatalog.list({
          tenant,
          category: p.category,
          prefix: p.prefix,
          after: p.after,
          limit: Math.max(1, Math.floor(Math.min(p.limit ?? config.maxPageSize, config.maxPageSize))) || config.maxPageSize
        }).pipe(Effect.provide(context), readTimeout("listStreams"))
      }),

    ListWorkflows: (p) =>
      Effect.zipRight(
        workflowsBootstrapOnly("listing them"),
        Effect.map(
          workflowTimeout(workflows.executions({ workflow: p.workflow, state: p.state, limit: p.limit })),
          (executions) => ({ workflows: workflows.names, executions })
        )
      ),

    RetryWorkflow: (p) => Effect.zipRight(workflowsBootstrapOnly("retrying them"), workflowTimeout(workflows.retry(p.workflow, p.executionId))),

    CancelWorkflow: (p) => Effect.zipRight(workflowsBootstrapOnly("cancelling them"), workflowTimeout(workflows.cancel(p.workflow, p.executionId))),

    CreateKey: (p) =>
      Effect.gen(function*() {
        const tenant = yield* tenantFor(yield* Principal, p.tenant, "admin", "manage keys")
        return yield* keys.create({ tenant, role: p.role, name: p.name })
      }),

    ListKeys: (p) =>
      Effect.gen(function*() {
        const principal = yield* Principal
        const tenant = yield* tenantFor(principal, p.tenant, "admin", "manage keys")
        return yield* keys.list(principal.tenant === allTenants && p.tenant === undefined ? undefined : tenant)
      }),

    RevokeKey: (p) =>
      Effect.gen(function*() {
        const principal = yield* Principal
        yield* tenantFor(principal, undefined, "admin", "manage keys")
        const key = yield* keys.get(p.id)
        if (principal.tenant !== allTenants && (key._tag === "None" || key.value.tenant !== principal.tenant)) {
          return yield* new Forbidden({ reason: "the key belongs to another tenant" })
        }
        return yield* keys.revoke(p.id)
      })
    // `DispatchBatch` is `batch` of the served `Dispatch` (drain.ts), so that each of its commands
    // is tracked as a `Dispatch` is.
  } satisfies RpcGroup.HandlersFrom<Exclude<RpcGroup.Rpcs<typeof RecountApi>, { readonly _tag: "DispatchBatch" }>>
})

/** The server side of `Authentication`: the bearer key of each call. */
export const authentication = (keys: ApiKeys["Type"]) => ({ headers }: { readonly headers: Record<string, string | undefined> }) => {
  const header = headers["authorization"]
  const key = header?.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined
  return keys.authenticate(key)
}
