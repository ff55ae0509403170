/**
 * A fresh PostgreSQL database for one test suite, on the run's shared server. Created when the
 * layer is built and dropped when it is released, so suites never see each other's data.
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Migrator from "@effect/sql/Migrator"
import type { CheckpointStore } from "@recount/core/CheckpointStore"
import type { EventStore } from "@recount/core/EventStore"
import type { SnapshotStore } from "@recount/core/SnapshotStore"
import * as Database from "@recount/postgres/Database"
import * as EmbeddedPostgres from "@recount/postgres/EmbeddedPostgres"
import * as PgPool from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { inject } from "vitest"
import "./internal/providedContext.js"

/**
 * The URL of the suite's own database.
 *
 * @since 0.1.0
 */
export class TestDatabaseUrl extends Context.Tag("@recount/testing/TestDatabaseUrl")<TestDatabaseUrl, string>() {}

const serverUrl = Effect.gen(function*() {
  const provided = (() => {
    try {
      return inject("recountDatabaseUrl")
    } catch {
      return undefined
    }
  })()
  if (provided) return provided
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL
  // No globalSetup and no DATABASE_URL: this suite gets a server of its own.
  const running = yield* EmbeddedPostgres.startEphemeral()
  return Redacted.value(running.url)
})

const withDatabase = (url: string, database: string) => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

const admin = (url: string, statement: string) =>
  Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(statement)).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
    Effect.scoped
  )

/**
 * A fresh database's URL, dropped (even with open connections) when the scope closes.
 *
 * @since 0.1.0
 */
export const layerUrl: Layer.Layer<TestDatabaseUrl, SqlError | EmbeddedPostgres.EmbeddedPostgresError> = Layer.scoped(
  TestDatabaseUrl,
  Effect.gen(function*() {
    const server = yield* serverUrl
    const name = `recount_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
    yield* Effect.acquireRelease(
      admin(server, `CREATE DATABASE ${name}`),
      () => admin(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.ignore)
    )
    return withDatabase(server, name)
  })
)

/**
 * A `PgClient` on a fresh database, with the same session settings as production clients.
 *
 * @since 0.1.0
 */
export const layerClient = (options?: { readonly maxConnections?: number; readonly namedStatements?: boolean }): Layer.Layer<
  PgClient.PgClient | SqlClient.SqlClient | PgPool.PgPool | TestDatabaseUrl,
  SqlError | EmbeddedPostgres.EmbeddedPostgresError
> =>
  Layer.unwrapEffect(Effect.map(TestDatabaseUrl, (url) =>
    PgPool.layer({
      url: Redacted.make(Database.withSessionSettings(url, { idle_in_transaction_session_timeout: "60000" })),
      maxConnections: options?.maxConnections ?? 30,
      namedStatements: options?.namedStatements
    }))).pipe(Layer.provideMerge(layerUrl))

/**
 * Recount's migrated stores on a fresh database.
 *
 * @since 0.1.0
 */
export const layerStores = (options?: { readonly maxConnections?: number; readonly namedStatements?: boolean }): Layer.Layer<
  EventStore | SnapshotStore | CheckpointStore | PgClient.PgClient | SqlClient.SqlClient | PgPool.PgPool | TestDatabaseUrl,
  SqlError | Migrator.MigrationError | EmbeddedPostgres.EmbeddedPostgresError
> => PgStores.layer.pipe(Layer.provideMerge(layerClient(options)))
