/**
 * Runs an aggregate as an `@effect/cluster` entity: one in-memory instance per aggregate id,
 * rebuilt from its snapshot and events when it wakes, handling its commands one at a time.
 *
 * @since 0.1.0
 */
import { ClusterSchema, Entity, type Sharding } from "@effect/cluster"
import type * as Headers from "@effect/platform/Headers"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import type * as Aggregate from "@recount/core/Aggregate"
import type { EventStore } from "@recount/core/EventStore"
import type { SnapshotStore } from "@recount/core/SnapshotStore"
import * as Tracing from "@recount/core/Tracing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { type CommandResult, entityType, parseEntityId, rpcs } from "./AggregateProtocol.js"
import * as Instance from "./internal/instance.js"
import * as LocalInstances from "./internal/localInstances.js"
import * as Mailbox from "./internal/mailbox.js"
import type { ResidentAggregates } from "./ResidentAggregates.js"
import { RuntimeConfig } from "./RuntimeConfig.js"
import { AggregateUnavailable } from "./RuntimeError.js"

const entities = new WeakMap<Aggregate.Any, unknown>()
const tracedEntities = new WeakMap<Aggregate.Any, unknown>()

/**
 * The cluster entity of an aggregate (one per aggregate definition). The cluster's client span
 * per message costs about 20% of a message's CPU, so it is on only when tracing is (`traced`):
 * then the entity's own span joins the command's trace instead of starting one of its own.
 *
 * @since 0.1.0
 */
export const entity = <A extends Aggregate.Any>(aggregate: A, options?: { readonly traced?: boolean | undefined }) => {
  const traced = options?.traced === true
  const make = () => Entity.make(entityType(aggregate), rpcs(aggregate)).annotateRpcs(ClusterSchema.ClientTracingEnabled, traced)
  const cache = traced ? tracedEntities : entities
  let cached = cache.get(aggregate) as ReturnType<typeof make> | undefined
  if (!cached) {
    cached = make()
    cache.set(aggregate, cached)
  }
  return cached
}

/**
 * Message headers that carry a command's origin to its entity: the caller's trace (when this
 * process does not trace, the cluster's own propagation is off) and its correlation id.
 */
export const headers = { traceparent: "traceparent", correlationId: "recount-correlation-id" } as const

/**
 * Registers the aggregate's entity with the cluster. Every runner must register every aggregate.
 *
 * @since 0.1.0
 */
export const layer = <A extends Aggregate.Any>(
  aggregate: A
): Layer.Layer<never, never, Sharding.Sharding | EventStore | SnapshotStore | ResidentAggregates> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const config = yield* RuntimeConfig
    const tracing = yield* Tracing.Tracing
    const e = entity(aggregate, { traced: tracing.enabled })
    const idleTimeout = Duration.decode(aggregate.idleTimeout ?? config.idleTimeout)
    const directWindow = LocalInstances.directWindow(Duration.toMillis(idleTimeout))
    return e.toLayer(
      Effect.gen(function*() {
        const address = yield* Entity.CurrentAddress
        const { aggregateId, tenant } = parseEntityId(address.entityId)
        const instance = yield* Instance.make(aggregate, tenant, aggregateId)
        // Commands reach the instance through the cluster and, from this node's bus, directly:
        // one mailbox keeps them one at a time.
        const mailbox = yield* Mailbox.make(() =>
          new AggregateUnavailable({ aggregate: aggregate.name, aggregateId, detail: "the instance stopped (passivated, or its shard moved) before the command ran" })
        )
        // The mailbox's fiber is not the caller's: the command's span and log annotations go with it.
        const run = (commandId: string, command: Aggregate.CommandOf<A>, origin: Instance.Origin) => {
          const executed = instance.execute(commandId, command, origin)
          const traced = tracing.enabled && origin.span !== undefined ? Effect.withParentSpan(executed, origin.span) : executed
          return tracing.logCommandIds ? Effect.annotateLogs(traced, "commandId", commandId) : traced
        }
        const execute = <E = never>(commandId: string, command: Aggregate.CommandOf<A>, origin: Instance.Origin, deadline?: Mailbox.Deadline<E>) =>
          mailbox.submit(run(commandId, command, origin), deadline)
        const view = <E = never>(deadline?: Mailbox.Deadline<E>) => mailbox.submit(instance.view, deadline)
        // A direct command that needs no fiber of the instance's (see `tryFast`) runs while the
        // caller holds the mailbox; its deadline still answers the caller at its time, and the
        // command, started, runs to its end. Traced or with command ids in the logs, commands go
        // through the mailbox, where they get their span and annotation. A command that cannot run
        // so (a busy mailbox, a refusal, an effectful decider) is answered with the mailbox's run,
        // to which it goes straight: a caller that tried again would decide it once more.
        const executeNow = <E>(
          commandId: string,
          command: Aggregate.CommandOf<A>,
          origin: Instance.Origin,
          deadline: Mailbox.Deadline<E>,
          answer: (outcome: Effect.Effect<CommandResult, unknown>) => void
        ): void => {
          if (!mailbox.tryClaim()) return answer(execute(commandId, command, origin, deadline))
          let finished = false
          let timer: ReturnType<typeof setTimeout> | undefined
          const started = instance.tryFast(commandId, command, origin, (outcome) => {
            mailbox.release()
            // A caller that gave up (its deadline) is not answered; a conflict's retry is then
            // not made either: the command did not apply, and a retry with its id will.
            if (finished) return
            finished = true
            if (timer !== undefined) clearTimeout(timer)
            answer(outcome ?? execute(commandId, command, origin, deadline))
          })
          if (!started) {
            mailbox.release()
            return answer(execute(commandId, command, origin, deadline))
          }
          timer = setTimeout(() => {
            if (finished) return
            finished = true
            answer(Effect.fail(deadline.onTimeout()))
          }, deadline.millis)
          timer.unref()
        }
        const fast = !tracing.enabled && !tracing.logCommandIds
        const executeDirect = <E>(commandId: string, command: Aggregate.CommandOf<A>, origin: Instance.Origin, deadline: Mailbox.Deadline<E>) =>
          Effect.async<CommandResult, unknown>((resume) => executeNow(commandId, command, origin, deadline, resume))
        const local: LocalInstances.LocalInstance = {
          shardId: address.shardId,
          execute: (fast ? executeDirect : execute) as LocalInstances.LocalInstance["execute"],
          executeNow: fast ? executeNow as LocalInstances.LocalInstance["executeNow"] : undefined,
          view,
          directUntil: 0
        }
        const registry = yield* Effect.serviceOption(LocalInstances.LocalInstances)
        if (registry._tag === "Some") {
          const key = LocalInstances.key(address.entityType, address.entityId)
          registry.value.set(key, local)
          yield* Effect.addFinalizer(() => Effect.sync(() => registry.value.get(key) === local && registry.value.delete(key)))
        }
        // The cluster's reaper counts every reply as activity, a refusal too.
        const delivered = <X, E>(effect: Effect.Effect<X, E>) =>
          Effect.ensuring(effect, Effect.sync(() => {
            local.directUntil = Date.now() + directWindow
          }))
        type Request = {
          readonly payload: { readonly commandId: string; readonly command: Aggregate.CommandOf<A> }
          readonly headers: Headers.Headers
        }
        // Traced, the handler runs in the entity's span, a child of the command's; untraced, the
        // caller's trace (if any) came as a header and is only recorded with the events.
        const fromCluster = tracing.enabled
          ? (request: Request) =>
            Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (span) =>
              execute(request.payload.commandId, request.payload.command, {
                span: Option.getOrUndefined(span),
                correlationId: request.headers[headers.correlationId]
              }))
          : (request: Request) =>
            execute(request.payload.commandId, request.payload.command, {
              span: request.headers[headers.traceparent] === undefined ? undefined : Option.getOrUndefined(HttpTraceContext.w3c(request.headers)),
              correlationId: request.headers[headers.correlationId]
            })
        return {
          Execute: (request: Request) => delivered(fromCluster(request)),
          ExecutePersisted: (request: Request) => delivered(fromCluster(request)),
          GetState: () => delivered(view())
        }
      }) as Effect.Effect<any, never, EventStore | SnapshotStore | ResidentAggregates | Entity.CurrentAddress>,
      { maxIdleTime: idleTimeout }
    ) as Layer.Layer<never, never, Sharding.Sharding | EventStore | SnapshotStore | ResidentAggregates>
  }))
