/**
 * Runs an aggregate as an `@effect/cluster` entity: one in-memory instance per aggregate id,
 * rebuilt from its snapshot and events when it wakes, handling its commands one at a time.
 *
 * @since 0.1.0
 */
import { ClusterSchema, Entity, type Sharding } from "@effect/cluster"
import type * as Aggregate from "@recount/core/Aggregate"
import type { EventStore } from "@recount/core/EventStore"
import type { SnapshotStore } from "@recount/core/SnapshotStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { entityType, parseEntityId, rpcs } from "./AggregateProtocol.js"
import * as Instance from "./internal/instance.js"
import type { ResidentAggregates } from "./ResidentAggregates.js"
import { RuntimeConfig } from "./RuntimeConfig.js"

const entities = new WeakMap<Aggregate.Any, unknown>()

/**
 * The cluster entity of an aggregate (one per aggregate definition).
 *
 * @since 0.1.0
 */
export const entity = <A extends Aggregate.Any>(aggregate: A) => {
  // The cluster's client spans cost about 20% of a message's CPU; the command bus is where a span
  // per command belongs (with the observability issue).
  const make = () => Entity.make(entityType(aggregate), rpcs(aggregate)).annotateRpcs(ClusterSchema.ClientTracingEnabled, false)
  let cached = entities.get(aggregate) as ReturnType<typeof make> | undefined
  if (!cached) {
    cached = make()
    entities.set(aggregate, cached)
  }
  return cached
}

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
    const e = entity(aggregate)
    return e.toLayer(
      Effect.gen(function*() {
        const address = yield* Entity.CurrentAddress
        const { aggregateId, tenant } = parseEntityId(address.entityId)
        const instance = yield* Instance.make(aggregate, tenant, aggregateId)
        return {
          Execute: (request: { readonly payload: { readonly commandId: string; readonly command: Aggregate.CommandOf<A> } }) =>
            instance.execute(request.payload.commandId, request.payload.command),
          ExecutePersisted: (request: { readonly payload: { readonly commandId: string; readonly command: Aggregate.CommandOf<A> } }) =>
            instance.execute(request.payload.commandId, request.payload.command),
          GetState: () => instance.view
        }
      }) as Effect.Effect<any, never, EventStore | SnapshotStore | ResidentAggregates | Entity.CurrentAddress>,
      { maxIdleTime: aggregate.idleTimeout ?? config.idleTimeout }
    ) as Layer.Layer<never, never, Sharding.Sharding | EventStore | SnapshotStore | ResidentAggregates>
  }))
