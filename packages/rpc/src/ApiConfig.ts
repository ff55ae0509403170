/**
 * Where the API listens and its limits. Every limit has a safe default: the libraries underneath
 * have none, or a 100 MiB one.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** @since 0.1.0 */
export interface ApiConfigShape {
  /** Loopback unless told otherwise, so a development node is not open to the network. */
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** Largest HTTP request body, in bytes. */
  readonly maxBodyBytes: number
  /** Largest WebSocket message, in bytes. */
  readonly maxMessageBytes: number
  /** Most events per `ReadStream` page. */
  readonly maxPageSize: number
  /** Most open subscriptions per connection. */
  readonly maxSubscriptionsPerConnection: number
  /** Longest a request may take (a dispatch's own timeout may be shorter, never longer). */
  readonly requestTimeout: Duration.Duration
}

/** `127.0.0.1:8080`, 1 MiB bodies and messages, pages of 1,000 events, 16 subscriptions, 30 s. */
export const defaults: ApiConfigShape = {
  host: "127.0.0.1",
  port: 8080,
  maxBodyBytes: 1024 * 1024,
  maxMessageBytes: 1024 * 1024,
  maxPageSize: 1000,
  maxSubscriptionsPerConnection: 16,
  requestTimeout: Duration.seconds(30)
}

/** @since 0.1.0 */
export class ApiConfig extends Context.Reference<ApiConfig>()("@recount/rpc/ApiConfig", { defaultValue: () => defaults }) {}

/** @since 0.1.0 */
export const layer = (options: Partial<Omit<ApiConfigShape, "requestTimeout">> & { readonly requestTimeout?: Duration.DurationInput }) =>
  Layer.succeed(ApiConfig, {
    ...defaults,
    ...options,
    requestTimeout: Duration.decode(options.requestTimeout ?? defaults.requestTimeout)
  })

/**
 * `RECOUNT_HTTP_HOST`, `RECOUNT_HTTP_PORT`, `RECOUNT_MAX_BODY_BYTES`, `RECOUNT_MAX_MESSAGE_BYTES`,
 * `RECOUNT_MAX_PAGE_SIZE`, `RECOUNT_MAX_SUBSCRIPTIONS`, `RECOUNT_REQUEST_TIMEOUT`.
 */
export const layerFromEnv = Layer.effect(
  ApiConfig,
  Effect.map(
    Config.all({
      host: Config.string("RECOUNT_HTTP_HOST").pipe(Config.withDefault(defaults.host)),
      port: Config.port("RECOUNT_HTTP_PORT").pipe(Config.withDefault(defaults.port)),
      maxBodyBytes: Config.integer("RECOUNT_MAX_BODY_BYTES").pipe(Config.withDefault(defaults.maxBodyBytes)),
      maxMessageBytes: Config.integer("RECOUNT_MAX_MESSAGE_BYTES").pipe(Config.withDefault(defaults.maxMessageBytes)),
      maxPageSize: Config.integer("RECOUNT_MAX_PAGE_SIZE").pipe(Config.withDefault(defaults.maxPageSize)),
      maxSubscriptionsPerConnection: Config.integer("RECOUNT_MAX_SUBSCRIPTIONS").pipe(Config.withDefault(defaults.maxSubscriptionsPerConnection)),
      requestTimeout: Config.duration("RECOUNT_REQUEST_TIMEOUT").pipe(Config.withDefault(defaults.requestTimeout))
    }),
    (c) => c
  )
)
