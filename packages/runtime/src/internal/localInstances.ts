/**
 * The aggregate instances awake on this node, so that the command bus can hand a command to one
 * directly. The cluster's local message path (a handler fiber, a mailbox and a reply per message)
 * cost 0.5-0.7 ms of CPU per command here, two to three times the command's own work with its
 * append; Akka's sharding likewise delivers to a local entity without the remote machinery.
 *
 * The cluster still owns the instances: it wakes them (a command for an instance that is not
 * awake here goes through the cluster), moves them with their shards, and passivates them.
 * Direct and cluster-delivered commands go through the instance's one mailbox, so an instance
 * still handles one command at a time. An instance whose shard moved away can at worst be handed a
 * command before its entity closes: its append carries the exact expected version, so it can
 * conflict and reload, never diverge, the same as a twin during a failover.
 */
import type { ShardId } from "@effect/cluster/ShardId"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { CommandResult, StateView } from "../AggregateProtocol.js"
import type { AggregateUnavailable } from "../RuntimeError.js"
import type { Origin } from "./instance.js"
import type { Deadline } from "./mailbox.js"

export interface LocalInstance {
  readonly shardId: ShardId
  /** Goes through the instance's mailbox, like a cluster-delivered command. */
  readonly execute: <E>(commandId: string, command: unknown, origin: Origin, deadline: Deadline<E>) => Effect.Effect<CommandResult, unknown>
  /**
   * Runs the command without a fiber when the instance can (its mailbox idle, see
   * `instance.tryFast`), and answers once with the outcome: an exit, or an effect to run (the
   * mailbox path, when it could not run so or after a conflict). Absent when commands are traced
   * or their ids logged.
   */
  readonly executeNow: (<E>(
    commandId: string,
    command: unknown,
    origin: Origin,
    deadline: Deadline<E>,
    answer: (outcome: Effect.Effect<CommandResult, unknown>) => void
  ) => void) | undefined
  readonly view: <E>(deadline: Deadline<E>) => Effect.Effect<StateView, AggregateUnavailable | E>
  /**
   * After this time (ms since the epoch) the bus sends the next command through the cluster. The
   * cluster's reaper measures idleness by cluster-delivered messages alone, so a busy instance
   * served only directly would be passivated.
   */
  directUntil: number
}

/**
 * How long after a cluster-delivered message an instance is served directly: half its idle
 * timeout, so a busy instance sends one command in that time through the cluster, and one
 * served only directly is passivated after at least half its idle timeout.
 */
export const directWindow = (idleMillis: number) => idleMillis / 2

export class LocalInstances extends Context.Tag("@recount/runtime/LocalInstances")<LocalInstances, Map<string, LocalInstance>>() {}

export const key = (entityType: string, entityId: string) => `${entityType}\u0000${entityId}`

export const layer: Layer.Layer<LocalInstances> = Layer.sync(LocalInstances, () => new Map())
