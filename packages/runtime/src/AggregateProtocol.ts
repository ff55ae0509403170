/**
 * The messages an aggregate entity understands, derived from the aggregate's schemas.
 *
 * @since 0.1.0
 */
import { ClusterSchema } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import type * as Aggregate from "@recount/core/Aggregate"
import * as Schema from "effect/Schema"
import { AggregateUnavailable, CommandConflict, InvalidCommand } from "./RuntimeError.js"

export { CommandResult, DecidedEvent, StateView } from "@recount/core/CommandResult"
import { CommandResult, StateView } from "@recount/core/CommandResult"

/**
 * The protocol's Rpcs for one aggregate. `Execute` rides volatile messages: fast, retried by the
 * sender, at-least-once, made exactly-once by the command id recorded with the events.
 * `ExecutePersisted` is stored in the cluster's tables first (three more round trips), survives
 * the caller, and is deduplicated by command id; it cannot be interrupted half-way by a caller
 * that gives up.
 */
export const rpcs = <A extends Aggregate.Any>(aggregate: A) => {
  const payload = { commandId: Schema.String, command: aggregate.commands as Schema.Schema<Aggregate.CommandOf<A>, unknown> }
  const error = Schema.Union(
    aggregate.errors as Schema.Schema<Aggregate.ErrorOf<A>, unknown>,
    CommandConflict,
    AggregateUnavailable,
    InvalidCommand
  )
  const Execute = Rpc.make("Execute", { payload, success: CommandResult, error })
  const ExecutePersisted = Rpc.make("ExecutePersisted", {
    payload,
    success: CommandResult,
    error,
    primaryKey: (p: { readonly commandId: string }) => p.commandId
  }).annotate(ClusterSchema.Persisted, true).annotate(ClusterSchema.Uninterruptible, true)
  const GetState = Rpc.make("GetState", { success: StateView, error: AggregateUnavailable })
  return [Execute, ExecutePersisted, GetState] as const
}

/** The entity type of an aggregate. */
export const entityType = (aggregate: Aggregate.Any) => `recount/${aggregate.name}`

/**
 * Entity ids carry the tenant: `<tenant>/<aggregate id>`. Tenants never contain `/`.
 *
 * @since 0.1.0
 */
export const entityId = (tenant: string, aggregateId: string) => `${tenant}/${aggregateId}`

/** @since 0.1.0 */
export const parseEntityId = (id: string): { readonly tenant: string; readonly aggregateId: string } => {
  const slash = id.indexOf("/")
  return { tenant: id.slice(0, slash), aggregateId: id.slice(slash + 1) }
}
