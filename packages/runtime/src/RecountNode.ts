/**
 * Node layers: everything one process needs to host aggregates, alone or in a cluster of runners
 * sharing one PostgreSQL.
 *
 * @since 0.1.0
 */
import { ClusterWorkflowEngine, RunnerAddress, RunnerHealth, Runners, Sharding, ShardingConfig, SqlRunnerStorage } from "@effect/cluster"
import { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { NodeClusterSocket } from "@effect/platform-node"
import type * as Aggregate from "@recount/core/Aggregate"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as AggregateEntity from "./AggregateEntity.js"
import * as ClusterHousekeeping from "./ClusterHousekeeping.js"
import * as CommandBus from "./CommandBus.js"
import type * as EventWorkflow from "./EventWorkflow.js"
import type * as ProcessManager from "./ProcessManager.js"
import type * as Projection from "./Projection.js"
import * as Projections from "./Projections.js"
import * as StorageOutage from "./internal/storageOutage.js"
import * as SupervisedSingleton from "./internal/supervisedSingleton.js"
import * as ResidentAggregates from "./ResidentAggregates.js"
import * as LocalInstances from "./internal/localInstances.js"
import * as Workflows from "./Workflows.js"

/**
 * How fast a cluster notices a dead runner and moves its shards. The defaults move a killed
 * node's aggregates within about 5 to 8 seconds (the library's own take about 28 s). Shorter
 * means more heartbeat writes and a higher risk of false takeovers during long pauses.
 *
 * @since 0.1.0
 */
export interface FailureDetection {
  /** A shard lock not refreshed for this long is free to take. */
  readonly shardLockExpiration: Duration.DurationInput
  readonly shardLockRefreshInterval: Duration.DurationInput
  readonly runnerHealthCheckInterval: Duration.DurationInput
  readonly refreshAssignmentsInterval: Duration.DurationInput
}

/** @since 0.1.0 */
export const defaultFailureDetection: FailureDetection = {
  shardLockExpiration: "6 seconds",
  shardLockRefreshInterval: "2 seconds",
  runnerHealthCheckInterval: "2 seconds",
  refreshAssignmentsInterval: "1 second"
}

/** `RECOUNT_SHARD_LOCK_EXPIRATION` and friends, each defaulting as above; explicit options win. */
export const failureDetectionConfig: Config.Config<FailureDetection> = Config.all({
  shardLockExpiration: Config.duration("RECOUNT_SHARD_LOCK_EXPIRATION").pipe(Config.withDefault(Duration.decode(defaultFailureDetection.shardLockExpiration))),
  shardLockRefreshInterval: Config.duration("RECOUNT_SHARD_LOCK_REFRESH_INTERVAL").pipe(Config.withDefault(Duration.decode(defaultFailureDetection.shardLockRefreshInterval))),
  runnerHealthCheckInterval: Config.duration("RECOUNT_RUNNER_HEALTH_CHECK_INTERVAL").pipe(Config.withDefault(Duration.decode(defaultFailureDetection.runnerHealthCheckInterval))),
  refreshAssignmentsInterval: Config.duration("RECOUNT_REFRESH_ASSIGNMENTS_INTERVAL").pipe(Config.withDefault(Duration.decode(defaultFailureDetection.refreshAssignmentsInterval)))
})

/**
 * A message to an aggregate on this node is handed over as it is. The library's default encodes
 * and decodes every local payload with its schema (to behave as a remote send would): about 5% of
 * a command's CPU in profiles. Commands reaching the bus are already typed
 * values (`dispatchUnknown` decodes its input), and messages to other runners are still encoded.
 */
const localDelivery = {
  entityMessagePollInterval: Duration.seconds(1),
  simulateRemoteSerialization: false
} as const

const shardingSettings = (failure: FailureDetection) => ({
  shardLockExpiration: Duration.decode(failure.shardLockExpiration),
  shardLockRefreshInterval: Duration.decode(failure.shardLockRefreshInterval),
  runnerHealthCheckInterval: Duration.decode(failure.runnerHealthCheckInterval),
  refreshAssignmentsInterval: Duration.decode(failure.refreshAssignmentsInterval),
  ...localDelivery
})

/** What a node runs: its aggregates and its projections. */
export interface App {
  readonly aggregates: ReadonlyArray<Aggregate.Any>
  readonly projections?: ReadonlyArray<Projection.Any> | undefined
  /**
   * The workflows with their implementations: `Workflows.register(workflow, workflow.toLayer(...))`
   * (the implementation may use the `CommandBus`). Operations find them by name.
   */
  readonly workflows?: ReadonlyArray<Workflows.Registration> | undefined
  /** Which events start which workflows (`EventWorkflow.trigger`). */
  readonly triggers?: ReadonlyArray<EventWorkflow.Trigger> | undefined
  /** Sagas as state per correlation id (`ProcessManager.make`). */
  readonly processManagers?: ReadonlyArray<ProcessManager.Any> | undefined
}

/**
 * Registers every aggregate, projection, workflow and trigger on `ClusterWorkflowEngine`, and
 * provides the command bus and the projections' operations.
 */
export const layerAggregates = (app: App) => {
  // The command bus hands commands to the instances awake on this node directly.
  const entities = Layer.mergeAll(Layer.empty, ...app.aggregates.map(AggregateEntity.layer)).pipe(
    Layer.provide(ResidentAggregates.layer),
    Layer.provideMerge(LocalInstances.layer)
  )
  // The cluster's reaper first sleeps for the shortest idle timeout registered before it starts
  // (30 s at most): the aggregates register before the workflow engine's own entities.
  const engine = ClusterWorkflowEngine.layer.pipe(Layer.provideMerge(entities))
  const projections = Layer.unwrapEffect(Effect.map(WorkflowEngine, (engine) =>
    Projections.layer([
      ...(app.projections ?? []),
      ...(app.triggers ?? []).map((t) => t.toProjection(engine)),
      ...(app.processManagers ?? []).map((pm) => pm.projection)
    ])))
  const core = Layer.mergeAll(CommandBus.layer(app.aggregates), ClusterHousekeeping.layer(), Workflows.layer(app.workflows ?? [])).pipe(
    Layer.provideMerge(projections),
    Layer.provideMerge(engine)
  )
  // Each process manager's outbox is sent by one node of the cluster.
  const dispatchers = (app.processManagers ?? []).map((pm) => SupervisedSingleton.make(`recount/process/${pm.name}`, pm.dispatcher))
  return Layer.mergeAll(Layer.empty, ...(app.workflows ?? []).map((w) => w.layer), ...dispatchers).pipe(Layer.provideMerge(core))
}

/**
 * One node hosting every shard, with the cluster's tables in the same PostgreSQL.
 *
 * @since 0.1.0
 */
export const layerSingle = (options: App) =>
  layerAggregates(options).pipe(
    // SingleRunner.layer({ runnerStorage: "sql" }), with the message storage that waits out an outage.
    Layer.provideMerge(Sharding.layer.pipe(
      Layer.provideMerge(Runners.layerNoop),
      Layer.provideMerge(StorageOutage.layerSqlMessageStorage),
      Layer.provide([Layer.orDie(SqlRunnerStorage.layer), RunnerHealth.layerNoop]),
      Layer.provide(ShardingConfig.layerFromEnv(localDelivery))
    ))
  )

/**
 * One runner of a cluster: it registers at `host:port` (its runner socket), shares shards with the
 * other runners of the same database, and takes over a dead runner's shards.
 *
 * @since 0.1.0
 */
export const layerRunner = (options: App & {
  readonly host: string
  readonly port: number
  readonly failureDetection?: Partial<FailureDetection> | undefined
}) =>
  layerAggregates(options).pipe(Layer.provideMerge(clusterSocket(options, false)))

/**
 * A node that dispatches commands to the cluster but hosts no aggregates (a gateway, a test
 * driver). It still needs the cluster's database, to find the runners.
 *
 * @since 0.1.0
 */
export const layerClient = (options: App) =>
  CommandBus.layer(options.aggregates).pipe(
    Layer.provideMerge(Projections.layerControl(options.projections ?? [])),
    Layer.provideMerge(clusterSocket({ host: "127.0.0.1", port: 0 }, true))
  )

const clusterSocket = (
  options: { readonly host: string; readonly port: number; readonly failureDetection?: Partial<FailureDetection> | undefined },
  clientOnly: boolean
) =>
  Layer.unwrapEffect(Effect.map(failureDetectionConfig, (fromEnv) => {
    const shardingConfig = {
      // Explicit, because the library would otherwise read the unprefixed HOST and PORT.
      runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)),
      ...shardingSettings({ ...fromEnv, ...options.failureDetection })
    }
    // storage "sql", with the message storage that waits out an outage.
    return NodeClusterSocket.layer({ storage: "byo", clientOnly, shardingConfig }).pipe(
      Layer.provideMerge(StorageOutage.layerSqlMessageStorage),
      Layer.provide(Layer.orDie(SqlRunnerStorage.layer)),
      Layer.provide(ShardingConfig.layerFromEnv(shardingConfig))
    )
  }))
