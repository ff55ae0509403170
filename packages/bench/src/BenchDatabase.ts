/**
 * The database a suite runs against: a fresh database on `DATABASE_URL`'s server, dropped at the
 * end, or else a throwaway embedded server.
 *
 * @since 0.1.0
 */
import * as Database from "@recount/postgres/Database"
import * as EmbeddedPostgres from "@recount/postgres/EmbeddedPostgres"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import pg from "pg"

const toError = (e: unknown): Error => e instanceof Error ? e : new Error(String(e))

/** Runs one statement on its own connection (CREATE/DROP DATABASE cannot share a pool). */
export const adminQuery = async (url: string, statement: string): Promise<void> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

const admin = (url: string, statement: string) => Effect.tryPromise({ try: () => adminQuery(url, statement), catch: toError })

const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

const fresh = (server: string, log: (line: string) => void) =>
  Effect.gen(function*() {
    const name = `recount_bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
    yield* Effect.acquireRelease(
      admin(server, `CREATE DATABASE ${name}`),
      () =>
        admin(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(
          Effect.catchAll((e) => Effect.sync(() => log(`could not drop database ${name}: ${e.message}`)))
        )
    )
    log(`using database ${name} on DATABASE_URL's server`)
    return withDatabase(server, name)
  })

/**
 * A connection URL with the session settings production clients use (see `Database.layerClient`),
 * so both sides of a comparison talk to identically configured sessions.
 *
 * @since 0.1.0
 */
export const acquire = (log: (line: string) => void): Effect.Effect<string, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const external = process.env.DATABASE_URL
    let url: string
    if (external !== undefined && external.length > 0) {
      url = yield* fresh(external, log)
    } else {
      log("starting an embedded PostgreSQL…")
      const running = yield* EmbeddedPostgres.startEphemeral()
      log(`embedded PostgreSQL on port ${running.port}`)
      url = Redacted.value(running.url)
    }
    return Database.withSessionSettings(url, { idle_in_transaction_session_timeout: "60000" })
  })
