/**
 * Limits and timings shared by every event store implementation.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * @since 0.1.0
 */
export interface EventStoreConfigShape {
  /** Largest accepted event, counted as the UTF-8 bytes of its data plus its metadata. */
  readonly maxEventBytes: number
  /** Events per page when a stream is read as an Effect `Stream`. */
  readonly readPageSize: number
  /** Events per batch when a subscription reads the global log. */
  readonly subscriptionBatchSize: number
  /** How often a caught-up subscription looks for new events when no notification arrives. */
  readonly pollInterval: Duration.Duration
  /** The tenant of single-tenant applications. */
  readonly defaultTenant: string
}

/** The defaults: 1 MiB events, 500-event pages, a 500 ms polling fallback, tenant `default`. */
export const defaults: EventStoreConfigShape = {
  maxEventBytes: 1024 * 1024,
  readPageSize: 500,
  subscriptionBatchSize: 500,
  pollInterval: Duration.millis(500),
  defaultTenant: "default"
}

/**
 * The configuration in force; the defaults unless a layer below provides another.
 *
 * @since 0.1.0
 */
export class EventStoreConfig extends Context.Reference<EventStoreConfig>()("@recount/core/EventStoreConfig", {
  defaultValue: () => defaults
}) {}

/**
 * Overrides some settings.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Partial<Omit<EventStoreConfigShape, "pollInterval">> & { readonly pollInterval?: Duration.DurationInput }
): Layer.Layer<never> =>
  Layer.succeed(EventStoreConfig, {
    ...defaults,
    ...options,
    pollInterval: Duration.decode(options.pollInterval ?? defaults.pollInterval)
  })

/**
 * Reads `RECOUNT_MAX_EVENT_BYTES`, `RECOUNT_READ_PAGE_SIZE`, `RECOUNT_SUBSCRIPTION_BATCH_SIZE`,
 * `RECOUNT_POLL_INTERVAL` and `RECOUNT_DEFAULT_TENANT`, each falling back to its default.
 *
 * @since 0.1.0
 */
export const config: Config.Config<EventStoreConfigShape> = Config.all({
  maxEventBytes: Config.integer("RECOUNT_MAX_EVENT_BYTES").pipe(
    Config.validate({ message: "must be a positive number of bytes", validation: (n) => n > 0 }),
    Config.withDefault(defaults.maxEventBytes)
  ),
  readPageSize: Config.integer("RECOUNT_READ_PAGE_SIZE").pipe(
    Config.validate({ message: "must be positive", validation: (n) => n > 0 }),
    Config.withDefault(defaults.readPageSize)
  ),
  subscriptionBatchSize: Config.integer("RECOUNT_SUBSCRIPTION_BATCH_SIZE").pipe(
    Config.validate({ message: "must be positive", validation: (n) => n > 0 }),
    Config.withDefault(defaults.subscriptionBatchSize)
  ),
  pollInterval: Config.duration("RECOUNT_POLL_INTERVAL").pipe(Config.withDefault(defaults.pollInterval)),
  defaultTenant: Config.nonEmptyString("RECOUNT_DEFAULT_TENANT").pipe(Config.withDefault(defaults.defaultTenant))
})

/** The configuration from the environment. */
export const layerFromEnv: Layer.Layer<never, import("effect/ConfigError").ConfigError> = Layer.effect(
  EventStoreConfig,
  Effect.map(config, (c) => c)
)
