/**
 * An activity that gives up once its workflow's shard has left this runner.
 *
 * @effect/workflow 0.19 closes a workflow's scope, compensations included, when its run is
 * interrupted, also when the run is only handed over: its shard moves, or the runner lost its
 * shard locks (a PostgreSQL restart, a terminated connection). That close runs uninterruptibly,
 * with the interruption forgotten (a compensation runs on the runtime captured when it was
 * registered), and its activity is sent to the very entity being closed, which never answers.
 * The entity then never closes, the runner's forced shard release waits on it for ever, and the
 * runner takes no shard back: every entity call and every projection singleton of the node stops.
 *
 * A compensation (an activity run while the workflow's scope closes) of a run that was only
 * interrupted, not cancelled, ends as interrupted without running: the run has not ended, it runs
 * again from its journal (here, or on the shard's next owner), and a hand-over must not
 * compensate. Any other compensation ends as interrupted as soon as the shard is not held: the
 * entity could not answer it anyway. Any other activity ends so only once the shard has been gone for
 * longer than the cluster gives an entity to finish (`entityTerminationTimeout`, 15 s by default):
 * by then the library has closed the entity itself, so the activity of a run that is still live
 * (its shard released gracefully) is not cut short; that run's interruption would be stored as its
 * final reply and the saga would never resume. The workflow resumes on the next owner, replays its
 * journal and registers its compensations again; a compensation of a workflow that fails or is
 * cancelled, on a shard still held, runs as before.
 */
import { ClusterSchema, EntityId, Sharding, ShardingConfig } from "@effect/cluster"
import { WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"

/** How often a waiting activity looks whether its shard is still held. */
const checkEvery = "250 millis"

/** Past the entity's own termination timeout, so that the library has begun closing it. */
const margin = Duration.seconds(2)

/** Without `Sharding` (the in-memory engine) there is no shard to lose: the activity runs as it is. */
export const whileShardHeld = <A, E, R>(activity: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | WorkflowInstance> =>
  Effect.flatMap(
    Effect.all([Effect.serviceOption(Sharding.Sharding), Effect.serviceOption(ShardingConfig.ShardingConfig), WorkflowInstance]),
    ([sharding, config, instance]) => {
      if (Option.isNone(sharding)) return activity
      const termination = Option.match(config, { onNone: () => ShardingConfig.defaults, onSome: (c) => c }).entityTerminationTimeout
      const graceMillis = Duration.toMillis(Duration.sum(termination, margin))
      // The workflow's entity address, as ClusterWorkflowEngine computes it.
      const entityId = EntityId.make(instance.executionId)
      const group = Context.get(instance.workflow.annotations, ClusterSchema.ShardGroup)(entityId)
      const shardId = sharding.value.getShardId(entityId, group)
      // A scope is marked closed, with the exit it closes with, before its finalizers (the
      // compensations) run.
      const state = (instance.scope as unknown as { readonly state?: { readonly _tag: string; readonly exit?: Exit.Exit<unknown, unknown> } }).state
      const compensating = state?._tag === "Closed"
      // A run that was only interrupted, and not cancelled (`interrupted` is the engine's mark of a
      // cancel), has not ended: it was handed over (its shard moved or its locks lapsed) or its
      // entity restarts, and it runs again from its journal. Compensating it now would undo steps
      // the run goes on from, whether or not this runner still sees the shard as its own.
      if (compensating && state.exit !== undefined && Exit.isFailure(state.exit) && Cause.isInterruptedOnly(state.exit.cause) && !instance.interrupted) {
        return Effect.fiberIdWith((id) => Effect.failCause(Cause.interrupt(id)))
      }
      const grace = compensating ? 0 : graceMillis
      let lostSince: number | undefined
      const lost = Effect.repeat(
        Effect.sync(() => {
          if (sharding.value.hasShardId(shardId)) lostSince = undefined
          else lostSince ??= Date.now()
          return lostSince !== undefined && Date.now() - lostSince >= grace
        }),
        { schedule: Schedule.spaced(checkEvery), until: (gone) => gone }
      )
      // An interruption as a failure's cause: the caller may be uninterruptible (a scope closing).
      const handedOver = Effect.zipRight(lost, Effect.fiberIdWith((id) => Effect.failCause(Cause.interrupt(id))))
      // Both sides interruptible: a race's loser inherits the caller's uninterruptibility, and
      // the race waits for its loser.
      const raced = Effect.raceFirst(Effect.interruptible(activity), Effect.interruptible(handedOver))
      // Why a saga compensates, for the operator (and for a compensation that should not run).
      return compensating && state.exit !== undefined && Exit.isFailure(state.exit)
        ? Effect.zipRight(
          Effect.logInfo(`compensating: the run ended with ${Cause.pretty(state.exit.cause)}`).pipe(
            // Whether this runner held the run's shard: a compensation of a run handed over (the open
            // RunnerRestart bug) would show it without.
            Effect.annotateLogs({ workflow: instance.workflow.name, executionId: instance.executionId, shardHeld: sharding.value.hasShardId(shardId) })
          ),
          raced
        )
        : raced
    }
  )
