/**
 * How aggregates run: idle timeout, conflict retries.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** @since 0.1.0 */
export interface RuntimeConfigShape {
  /** How long an idle aggregate stays in memory when its definition sets no idle timeout. */
  readonly idleTimeout: Duration.Duration
  /** How many times a command is decided again after a `WrongExpectedVersion` before it fails. */
  readonly maxConflictRetries: number
  /** Default timeout of a dispatched command. */
  readonly commandTimeout: Duration.Duration
  /** Most aggregate states one node keeps in memory; the least recently used drop theirs first. */
  readonly maxResidentAggregates: number
}

/** Five minutes idle, three retries, a 30 second command timeout, 100,000 resident states. */
export const defaults: RuntimeConfigShape = {
  idleTimeout: Duration.minutes(5),
  maxConflictRetries: 3,
  commandTimeout: Duration.seconds(30),
  maxResidentAggregates: 100_000
}

/** @since 0.1.0 */
export class RuntimeConfig extends Context.Reference<RuntimeConfig>()("@recount/runtime/RuntimeConfig", {
  defaultValue: () => defaults
}) {}

/** @since 0.1.0 */
export const layer = (options: {
  readonly idleTimeout?: Duration.DurationInput
  readonly maxConflictRetries?: number
  readonly commandTimeout?: Duration.DurationInput
  readonly maxResidentAggregates?: number
}): Layer.Layer<never> =>
  Layer.succeed(RuntimeConfig, {
    idleTimeout: Duration.decode(options.idleTimeout ?? defaults.idleTimeout),
    maxConflictRetries: options.maxConflictRetries ?? defaults.maxConflictRetries,
    commandTimeout: Duration.decode(options.commandTimeout ?? defaults.commandTimeout),
    maxResidentAggregates: options.maxResidentAggregates ?? defaults.maxResidentAggregates
  })

/** `RECOUNT_IDLE_TIMEOUT`, `RECOUNT_MAX_CONFLICT_RETRIES`, `RECOUNT_COMMAND_TIMEOUT`, `RECOUNT_MAX_RESIDENT_AGGREGATES`. */
export const layerFromEnv = Layer.effect(
  RuntimeConfig,
  Effect.map(
    Config.all({
      idleTimeout: Config.duration("RECOUNT_IDLE_TIMEOUT").pipe(Config.withDefault(defaults.idleTimeout)),
      maxConflictRetries: Config.integer("RECOUNT_MAX_CONFLICT_RETRIES").pipe(Config.withDefault(defaults.maxConflictRetries)),
      commandTimeout: Config.duration("RECOUNT_COMMAND_TIMEOUT").pipe(Config.withDefault(defaults.commandTimeout)),
      maxResidentAggregates: Config.integer("RECOUNT_MAX_RESIDENT_AGGREGATES").pipe(Config.withDefault(defaults.maxResidentAggregates))
    }),
    (c) => c
  )
)
