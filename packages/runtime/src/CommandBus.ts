/**
 * Sends commands to aggregate instances wherever they run in the cluster, by aggregate and id.
 *
 * @since 0.1.0
 */
import { Sharding } from "@effect/cluster"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Aggregate from "@recount/core/Aggregate"
import { checkName, maxIdLength, maxTenantLength } from "@recount/core/EventStoreKit"
import * as Tracing from "@recount/core/Tracing"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import * as AggregateEntity from "./AggregateEntity.js"
import { type CommandResult, entityId, entityType, type StateView } from "./AggregateProtocol.js"
import { type CaughtUp, Projections, type ProjectionsError } from "./Projections.js"
import * as RecountMetrics from "./RecountMetrics.js"
import { RuntimeConfig } from "./RuntimeConfig.js"
import { AggregateUnavailable, type CommandConflict, CommandTimeout, InvalidCommand, UnknownProjection } from "./RuntimeError.js"
import * as LocalInstances from "./internal/localInstances.js"
import type * as Mailbox from "./internal/mailbox.js"
import { maxCommandDepth, tooDeep } from "./internal/nesting.js"
import { withTimeout } from "./internal/timeout.js"

/** @since 0.1.0 */
export interface DispatchOptions {
  /** Identifies the command for idempotency; a UUID is generated when absent. Retries must reuse it. */
  readonly commandId?: string | undefined
  readonly tenant?: string | undefined
  /** Defaults to the runtime's command timeout. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * `"eventual"` (the default) replies once the events are stored. `"strong"` also waits until
   * every projection that handles the events has applied them, and an object names the
   * projections and the wait (default 5 s). The reply's `projections` says whether they caught
   * up; the events are committed either way.
   */
  readonly consistency?: Consistency | undefined
  /**
   * `"volatile"` (the default): the command goes straight to the runner that owns the aggregate.
   * `"persisted"`: it is stored in the cluster's tables first and survives the caller; about 50
   * times slower here, so meant for commands nobody waits on. Both are exactly-once by command id.
   */
  readonly delivery?: "volatile" | "persisted" | undefined
  /** Recorded with the events as their correlation id; defaults to the command id. */
  readonly correlationId?: string | undefined
}

/** @since 0.1.0 */
export type Consistency =
  | "eventual"
  | "strong"
  | { readonly projections?: ReadonlyArray<string> | undefined; readonly timeout?: Duration.DurationInput | undefined }

/** How long a dispatch waits for projections when the option does not say. */
export const defaultConsistencyTimeout = Duration.seconds(5)

/**
 * What a dispatch returns: the command's result and, when it asked for strong consistency,
 * whether the projections caught up.
 *
 * @since 0.1.0
 */
export interface DispatchResult extends CommandResult {
  readonly projections?: CaughtUp | undefined
}

/** Errors of a dispatch besides the aggregate's domain errors. */
export type DispatchError = CommandConflict | CommandTimeout | AggregateUnavailable | InvalidCommand | ProjectionsError

/** @since 0.1.0 */
export interface CommandBusService {
  readonly dispatch: <A extends Aggregate.Any>(
    aggregate: A,
    aggregateId: string,
    command: Aggregate.CommandOf<A>,
    options?: DispatchOptions
  ) => Effect.Effect<DispatchResult, Aggregate.ErrorOf<A> | DispatchError>
  /** Dispatches a command given as JSON, by aggregate name: for gateways. */
  readonly dispatchUnknown: (
    aggregateName: string,
    aggregateId: string,
    command: unknown,
    options?: DispatchOptions
  ) => Effect.Effect<DispatchResult, unknown>
  readonly getState: <A extends Aggregate.Any>(
    aggregate: A,
    aggregateId: string,
    options?: { readonly tenant?: string | undefined; readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<StateView, AggregateUnavailable | CommandTimeout | InvalidCommand>
  /** The aggregates this bus knows, by name. */
  readonly aggregates: ReadonlyMap<string, Aggregate.Any>
}

/** @since 0.1.0 */
export class CommandBus extends Context.Tag("@recount/runtime/CommandBus")<CommandBus, CommandBusService>() {}

const checkTarget = (aggregate: string, aggregateId: string, tenant: string) => {
  const idProblem = checkName(aggregateId, maxIdLength)
  if (idProblem) return Either.left(new InvalidCommand({ aggregate, detail: `aggregate id ${idProblem}` }))
  const tenantProblem = checkName(tenant, maxTenantLength) ?? (tenant.includes("/") ? "must not contain /" : undefined)
  if (tenantProblem) return Either.left(new InvalidCommand({ aggregate, detail: `tenant ${tenantProblem}` }))
  return Either.right(entityId(tenant, aggregateId))
}

/** `Effect.matchCauseEffect` with its handlers as arguments, so a caller's closures stay unnamed. */
const matchCauseWith = <A, E, A2, E2, A3, E3>(
  effect: Effect.Effect<A, E>,
  onFailure: (cause: Cause.Cause<E>) => Effect.Effect<A2, E2>,
  onSuccess: (a: A) => Effect.Effect<A3, E3>
): Effect.Effect<A2 | A3, E2 | E3> => Effect.matchCauseEffect(effect, { onFailure, onSuccess })

type AggregateMetrics = ReturnType<typeof RecountMetrics.forAggregate>

/** A command's deadline; a class, so that a dispatch makes no closure for it. */
class CommandDeadline implements Mailbox.Deadline<CommandTimeout> {
  constructor(
    readonly aggregate: string,
    readonly aggregateId: string,
    readonly commandId: string,
    readonly millis: number
  ) {}
  onTimeout() {
    return new CommandTimeout({ aggregate: this.aggregate, aggregateId: this.aggregateId, commandId: this.commandId, timeoutMillis: this.millis })
  }
}

/**
 * The cluster builds a client (a proxy and a shard hash) per call of `makeClient(id)`: keep the
 * ones of recently used ids, so a hot aggregate's commands skip it.
 */
const cached = <C>(make: (id: string) => C, capacity = 10_000) => {
  const recent = new Map<string, C>()
  return (id: string): C => {
    let client = recent.get(id)
    if (client === undefined) {
      client = make(id)
      if (recent.size >= capacity) recent.delete(recent.keys().next().value!)
      recent.set(id, client)
    }
    return client
  }
}

/**
 * A bus for these aggregates, on the cluster's `Sharding`.
 *
 * @since 0.1.0
 */
export const layer = (aggregates: ReadonlyArray<Aggregate.Any>): Layer.Layer<CommandBus, never, Sharding.Sharding> =>
  Layer.effect(CommandBus, Effect.gen(function*() {
    const config = yield* RuntimeConfig
    const tracing = yield* Tracing.Tracing
    const projections = yield* Effect.serviceOption(Projections)
    const sharding = yield* Sharding.Sharding
    const local = Option.getOrUndefined(yield* Effect.serviceOption(LocalInstances.LocalInstances))
    // The instance awake on this node, if its commands may skip the cluster's message path now.
    const direct = (aggregate: Aggregate.Any, id: string): LocalInstances.LocalInstance | undefined => {
      const instance = local?.get(LocalInstances.key(entityType(aggregate), id))
      return instance !== undefined && sharding.hasShardId(instance.shardId) && Date.now() < instance.directUntil ? instance : undefined
    }
    const byName = new Map<string, Aggregate.Any>()
    const clients = new Map<Aggregate.Any, (id: string) => any>()
    const isDomainError = new Map<Aggregate.Any, (u: unknown) => boolean>()
    const decoders = new Map<Aggregate.Any, (u: unknown) => Either.Either<unknown, ParseResult.ParseError>>()
    const metrics = new Map<Aggregate.Any, ReturnType<typeof RecountMetrics.forAggregate>>()
    for (const aggregate of aggregates) {
      if (byName.has(aggregate.name)) return yield* Effect.dieMessage(`aggregate ${aggregate.name} is registered twice`)
      byName.set(aggregate.name, aggregate)
      clients.set(aggregate, cached(yield* AggregateEntity.entity(aggregate, { traced: tracing.enabled }).client))
      isDomainError.set(aggregate, Schema.is(aggregate.errors))
      decoders.set(aggregate, Schema.decodeUnknownEither(aggregate.commands as Schema.Schema<unknown, unknown, never>))
      metrics.set(aggregate, RecountMetrics.forAggregate(aggregate.name))
    }
    const clientFor = (aggregate: Aggregate.Any) => {
      const client = clients.get(aggregate)
      return client ? Either.right(client) : Either.left(new InvalidCommand({ aggregate: aggregate.name, detail: "this aggregate is not registered with the command bus" }))
    }
    const ours = new Set(["CommandConflict", "AggregateUnavailable", "InvalidCommand", "CommandTimeout"])
    const describe = (e: unknown) =>
      typeof e === "object" && e !== null && "_tag" in e ? `${(e as { _tag: string })._tag}: ${String((e as { message?: unknown }).message ?? "")}` : String(e)
    // Anything but the aggregate's domain errors and our own typed errors is the cluster failing
    // to deliver (a full mailbox, a socket to a runner that just died): the command may or may
    // not have run, and a retry with the same command id is safe.
    // `send` gets the deadline when it can keep it itself (a direct hand-over), which is far
    // cheaper than timing it out from outside.
    const unavailable = (aggregate: Aggregate.Any, aggregateId: string, e: unknown) =>
      new AggregateUnavailable({ aggregate: aggregate.name, aggregateId, detail: describe(e) })
    // What the caller sees of a failed command: the aggregate's domain errors and our typed errors
    // as they are, anything else as unavailable.
    const callerCause = (aggregate: Aggregate.Any, aggregateId: string, cause: Cause.Cause<unknown>): Cause.Cause<unknown> => {
      const failure = Cause.failureOrCause(cause)
      if (Either.isLeft(failure)) {
        const e = failure.left
        return isDomainError.get(aggregate)!(e) || (typeof e === "object" && e !== null && "_tag" in e && ours.has((e as { _tag: string })._tag))
          ? Cause.fail(e)
          : Cause.fail(unavailable(aggregate, aggregateId, e))
      }
      const defect = Cause.dieOption(cause)
      if (Option.isSome(defect)) return Cause.fail(unavailable(aggregate, aggregateId, defect.value))
      // A volatile reply can carry the runner's interruption of the handler: its entity server
      // closed while the command ran (its shard moved, its runner's shard locks lapsed). The
      // caller was not interrupted; the command may or may not have run. Only that interruption
      // (@effect/rpc's transient one): others, such as a workflow suspending its activity, keep
      // their meaning.
      return Cause.isInterruptedOnly(cause) && [...Cause.interruptors(cause)].every((id) => HashSet.has(FiberId.ids(id), RpcServer.fiberIdTransientInterrupt.id))
        ? Cause.fail(unavailable(aggregate, aggregateId, "interrupted on the runner"))
        : cause
    }
    // One handler for failures, defects and interruptions: a frame per kind cost more than the
    // command's decide.
    const forCaller = <A>(aggregate: Aggregate.Any, aggregateId: string, effect: Effect.Effect<A, unknown>) =>
      Effect.catchAllCause(effect, (cause) => Effect.failCause(callerCause(aggregate, aggregateId, cause)))
    const call = <A>(
      aggregate: Aggregate.Any,
      aggregateId: string,
      commandId: string,
      timeout: Duration.DurationInput | undefined,
      send: (deadline: Mailbox.Deadline<CommandTimeout>) => Effect.Effect<A, unknown> | undefined,
      viaCluster: () => Effect.Effect<A, unknown>
    ) => {
      const deadline = new CommandDeadline(aggregate.name, aggregateId, commandId, Duration.toMillis(Duration.decode(timeout ?? config.commandTimeout)))
      const effect = send(deadline) ?? withTimeout(viaCluster(), deadline.millis, () => deadline.onTimeout())
      return forCaller(aggregate, aggregateId, effect)
    }

    // What travels with the command to its entity: the correlation id, and, when this process
    // does not trace (the cluster's own propagation is then off), a trace the caller handed over.
    const originHeaders = (context: Context.Context<never>, correlationId: string | undefined) => {
      const external = tracing.enabled ? undefined : Tracing.external(Context.getOption(context, Tracer.ParentSpan))
      if (external === undefined && correlationId === undefined) return undefined
      const headers: Record<string, string> = {}
      if (external !== undefined) headers[AggregateEntity.headers.traceparent] = Tracing.traceparent(external)
      if (correlationId !== undefined) headers[AggregateEntity.headers.correlationId] = correlationId
      return { headers }
    }

    const outcomeOf = (e: unknown): RecountMetrics.CommandOutcome => {
      switch (typeof e === "object" && e !== null && "_tag" in e ? (e as { _tag: unknown })._tag : undefined) {
        case "CommandConflict":
          return "conflict"
        case "CommandTimeout":
          return "timeout"
        case "AggregateUnavailable":
        case "ProjectionsUnavailable":
          return "unavailable"
        case "InvalidCommand":
        case "UnknownProjection":
          return "invalid"
        default:
          return "rejected"
      }
    }

    const record = (metered: AggregateMetrics, started: number, exit: Exit.Exit<DispatchResult, unknown>) => {
      if (Exit.isSuccess(exit)) metered.record(exit.value.alreadyApplied ? "already_applied" : "ok", started)
      else {
        const failure = Cause.failureOption(exit.cause)
        metered.record(failure._tag === "Some" ? outcomeOf(failure.value) : "unavailable", started)
      }
    }

    // One frame for both outcomes: an `onExit`, or a map and an error tap, cost more.
    const measured = <A extends DispatchResult, E>(metered: AggregateMetrics, started: number, effect: Effect.Effect<A, E>) =>
      matchCauseWith(
        effect,
        (cause) => {
          record(metered, started, Exit.failCause(cause))
          return Effect.failCause(cause)
        },
        (result) => {
          record(metered, started, Exit.succeed(result))
          return Effect.succeed(result)
        }
      )

    // The common command in one step of the caller's fiber: untraced, volatile, eventual, to an
    // instance awake here whose mailbox is idle. The instance answers through a callback, with an
    // exit (or, after a conflict, the mailbox path to run); anything else takes the general path.
    const directly = (
      aggregate: Aggregate.Any,
      aggregateId: string,
      command: unknown,
      commandId: string,
      options: DispatchOptions | undefined,
      span: Tracer.AnySpan | undefined,
      metered: AggregateMetrics,
      started: number
    ): Effect.Effect<DispatchResult, unknown> | undefined => {
      if (options !== undefined && (options.delivery === "persisted" || (options.consistency ?? "eventual") !== "eventual")) return undefined
      const id = checkTarget(aggregate.name, aggregateId, options?.tenant ?? "default")
      if (Either.isLeft(id) || checkName(commandId, maxIdLength) !== undefined) return undefined
      const executeNow = direct(aggregate, id.right)?.executeNow
      if (executeNow === undefined) return undefined
      const deadline = new CommandDeadline(aggregate.name, aggregateId, commandId, Duration.toMillis(Duration.decode(options?.timeout ?? config.commandTimeout)))
      const origin = { span, correlationId: options?.correlationId }
      return Effect.async<DispatchResult, unknown>((resume) => {
        // An inline callback: a named one costs a `defineProperty` per command under tsx. An
        // effect to run (the instance's mailbox path) comes already checked, with its deadline.
        executeNow(commandId, command, origin, deadline, (outcome) => {
          if (!Exit.isExit(outcome)) return resume(measured(metered, started, forCaller(aggregate, aggregateId, outcome)))
          const exit = (Exit.isSuccess(outcome) ? outcome : Exit.failCause(callerCause(aggregate, aggregateId, outcome.cause))) as Exit.Exit<DispatchResult, unknown>
          record(metered, started, exit)
          resume(exit)
        })
      })
    }

    const dispatch: CommandBusService["dispatch"] = (aggregate, aggregateId, command, options) =>
      Effect.withFiberRuntime((fiber) => {
        const commandId = options?.commandId ?? globalThis.crypto.randomUUID()
        const started = performance.now()
        const metered = metrics.get(aggregate)
        if (metered !== undefined && !tracing.enabled) {
          const span = Option.getOrUndefined(Context.getOption(fiber.currentContext, Tracer.ParentSpan))
          const fast = directly(aggregate, aggregateId, command, commandId, options, span, metered, started)
          if (fast !== undefined) return fast as Effect.Effect<DispatchResult, Aggregate.ErrorOf<typeof aggregate> | DispatchError>
        }
        const sent = send(aggregate, aggregateId, command, commandId, options)
        const result = metered === undefined ? sent : measured(metered, started, sent)
        return tracing.enabled
          ? Effect.withSpan(result, "recount.command", {
            kind: "server",
            attributes: {
              ...Tracing.commandAttributes({ aggregate: aggregate.name, aggregateId, command, commandId }),
              "recount.tenant": options?.tenant ?? "default"
            }
          })
          : result
      })

    // Checks the target and the options, then sends; no generator: this runs for every command.
    const send = <A extends Aggregate.Any>(
      aggregate: A,
      aggregateId: string,
      command: Aggregate.CommandOf<A>,
      commandId: string,
      options: DispatchOptions | undefined
    ): Effect.Effect<DispatchResult, Aggregate.ErrorOf<A> | DispatchError> => {
      const client = clientFor(aggregate)
      if (Either.isLeft(client)) return Effect.fail(client.left)
      const tenant = options?.tenant ?? "default"
      const id = checkTarget(aggregate.name, aggregateId, tenant)
      if (Either.isLeft(id)) return Effect.fail(id.left)
      const idProblem = checkName(commandId, maxIdLength)
      if (idProblem) return Effect.fail(new InvalidCommand({ aggregate: aggregate.name, detail: `command id ${idProblem}` }))
      const consistency = options?.consistency ?? "eventual"
      if (consistency !== "eventual") {
        if (Option.isNone(projections)) {
          return Effect.fail(new InvalidCommand({ aggregate: aggregate.name, detail: "strong consistency needs projections, and none run with this command bus" }))
        }
        // Checked before the command runs: a typo must not leave a committed command behind an error.
        const known = projections.value.projections
        const unknown = typeof consistency === "object" ? consistency.projections?.find((name) => !known.has(name)) : undefined
        if (unknown !== undefined) return Effect.fail(new UnknownProjection({ projection: unknown, known: [...known.keys()] }))
      }
      const persisted = options?.delivery === "persisted"
      const correlationId = options?.correlationId
      const executed = call(
        aggregate,
        aggregateId,
        commandId,
        options?.timeout,
        (deadline) => {
          const instance = persisted ? undefined : direct(aggregate, id.right)
          return instance && Effect.withFiberRuntime<CommandResult, unknown>((fiber) =>
            instance.execute(commandId, command, {
              span: Option.getOrUndefined(Context.getOption(fiber.currentContext, Tracer.ParentSpan)),
              correlationId
            }, deadline)
          )
        },
        () =>
          Effect.withFiberRuntime<CommandResult, unknown>((fiber) =>
            (persisted ? client.right(id.right).ExecutePersisted : client.right(id.right).Execute)(
              { commandId, command },
              originHeaders(fiber.currentContext, correlationId)
            ) as Effect.Effect<CommandResult, unknown>
          )
      ) as Effect.Effect<CommandResult, Aggregate.ErrorOf<A> | DispatchError>
      if (consistency === "eventual" || Option.isNone(projections)) return executed
      const wait = typeof consistency === "object" ? consistency : {}
      return Effect.flatMap(executed, (result) => {
        const first = result.events[0]
        if (!first) return Effect.succeed<DispatchResult>({ ...result, projections: { caughtUp: true, lagging: [], waitedMillis: 0 } })
        return Effect.map(
          projections.value.waitFor(
            { tenant, streamName: Aggregate.streamName(aggregate, aggregateId), firstVersion: first.streamVersion, lastVersion: result.streamVersion },
            { projections: wait.projections, timeout: wait.timeout ?? defaultConsistencyTimeout }
          ),
          (caughtUp): DispatchResult => ({ ...result, projections: caughtUp })
        )
      })
    }

    return CommandBus.of({
      aggregates: byName,
      dispatch,
      // Plain steps, not a generator: the API's faces dispatch through here for every command.
      dispatchUnknown: (aggregateName, aggregateId, command, options) => {
        const aggregate = byName.get(aggregateName)
        if (!aggregate) return Effect.fail(new InvalidCommand({ aggregate: aggregateName, detail: `unknown aggregate; known: ${[...byName.keys()].join(", ")}` }))
        const deepAt = tooDeep(command)
        if (deepAt !== undefined) {
          return Effect.fail(new InvalidCommand({ aggregate: aggregateName, detail: `the command nests deeper than ${maxCommandDepth} levels at ${deepAt}` }))
        }
        const decoded = decoders.get(aggregate)!(command)
        if (Either.isLeft(decoded)) {
          return Effect.fail(new InvalidCommand({ aggregate: aggregateName, detail: ParseResult.TreeFormatter.formatErrorSync(decoded.left) }))
        }
        return dispatch(aggregate, aggregateId, decoded.right, options)
      },
      getState: (aggregate, aggregateId, options) =>
        Effect.gen(function*() {
          const client = yield* clientFor(aggregate)
          const id = yield* checkTarget(aggregate.name, aggregateId, options?.tenant ?? "default")
          return yield* (call(
            aggregate,
            aggregateId,
            "GetState",
            options?.timeout,
            (deadline) => direct(aggregate, id)?.view(deadline),
            () => client(id).GetState() as Effect.Effect<StateView, unknown>
          ) as Effect.Effect<StateView, AggregateUnavailable | CommandTimeout>)
        })
    })
  }))
