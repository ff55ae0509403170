/**
 * The PostgreSQL server Recount talks to: the one `DATABASE_URL` names, or, when it is not set,
 * an embedded server started under a data folder.
 *
 * @since 0.1.0
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as EmbeddedPostgres from "./EmbeddedPostgres.js"
import * as PgPool from "./PgPool.js"

/**
 * Where the database is, and whether Recount started it.
 *
 * @since 0.1.0
 */
export class DatabaseUrl extends Context.Tag("@recount/postgres/DatabaseUrl")<DatabaseUrl, {
  readonly url: Redacted.Redacted<string>
  /** `"embedded"` when Recount started the server, `"external"` for `DATABASE_URL`. */
  readonly source: "embedded" | "external"
  readonly dataDir: Option.Option<string>
}>() {}

/**
 * `DATABASE_URL` when set; otherwise starts the embedded server under `RECOUNT_PG_DATA_DIR`
 * (default `.recount/pg`) for the lifetime of the layer.
 *
 * @since 0.1.0
 */
export const layerUrl: Layer.Layer<DatabaseUrl, EmbeddedPostgres.EmbeddedPostgresError | ConfigError.ConfigError> =
  Layer.scoped(
    DatabaseUrl,
    Effect.gen(function*() {
      const external = yield* Config.option(Config.redacted("DATABASE_URL"))
      if (Option.isSome(external) && Redacted.value(external.value).length > 0) {
        return { url: external.value, source: "external" as const, dataDir: Option.none() }
      }
      const dataDir = yield* EmbeddedPostgres.dataDirConfig
      const running = yield* EmbeddedPostgres.start({ dataDir })
      return { url: running.url, source: "embedded" as const, dataDir: Option.some(running.dataDir) }
    })
  )

/**
 * @since 0.1.0
 */
export interface ClientOptions {
  /** Pool size; default 20 (`RECOUNT_PG_POOL_SIZE`). */
  readonly maxConnections?: number | undefined
  /**
   * Ends sessions idle inside a transaction after this long (default 60 s). Open transactions
   * hold back every reader of the global log, so none may stay open for long.
   */
  readonly idleInTransactionTimeout?: Duration.DurationInput | undefined
  readonly applicationName?: string | undefined
}

/** Adds session settings to a connection URL through libpq's `options` parameter. */
export const withSessionSettings = (url: string, settings: Record<string, string>): string => {
  const parsed = new URL(url)
  const existing = parsed.searchParams.get("options")
  const added = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(" ")
  parsed.searchParams.set("options", existing ? `${existing} ${added}` : added)
  return parsed.toString()
}

/**
 * A pool with a `PgClient` (and `SqlClient`) on it, for the database at `DatabaseUrl`.
 *
 * @since 0.1.0
 */
export const layerClient = (
  options?: ClientOptions
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient | PgPool.PgPool, SqlError | ConfigError.ConfigError, DatabaseUrl> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const { url } = yield* DatabaseUrl
    const poolSize = options?.maxConnections ?? (yield* Config.integer("RECOUNT_PG_POOL_SIZE").pipe(Config.withDefault(20)))
    const idle = Duration.toMillis(options?.idleInTransactionTimeout ?? Duration.seconds(60))
    const namedStatements = yield* Config.boolean("RECOUNT_PG_NAMED_STATEMENTS").pipe(Config.withDefault(true))
    return PgPool.layer({
      namedStatements,
      url: Redacted.make(withSessionSettings(Redacted.value(url), { idle_in_transaction_session_timeout: String(idle) })),
      maxConnections: poolSize,
      applicationName: options?.applicationName ?? "recount"
    })
  }))

/**
 * The database from the environment: `DATABASE_URL` or the embedded default, with a client.
 *
 * @since 0.1.0
 */
export const layer = (
  options?: ClientOptions
): Layer.Layer<
  PgClient.PgClient | SqlClient.SqlClient | PgPool.PgPool | DatabaseUrl,
  SqlError | ConfigError.ConfigError | EmbeddedPostgres.EmbeddedPostgresError
> => layerClient(options).pipe(Layer.provideMerge(layerUrl))
