// Run by EmbeddedPostgres.test.ts as an unprivileged user: starts a throwaway server, queries it,
// prints "ok <uid>" and stops it.
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as EmbeddedPostgres from "../../src/EmbeddedPostgres.js"

const program = Effect.gen(function*() {
  const running = yield* EmbeddedPostgres.startEphemeral()
  const rows = yield* Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe<{ one: number }>("SELECT 1 AS one")).pipe(
    Effect.provide(PgClient.layer({ url: running.url, maxConnections: 1 }))
  )
  return `ok ${process.getuid?.()} ${rows[0]?.one}`
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  (line) => {
    console.log(line)
    process.exit(0)
  },
  (error) => {
    console.error(String(error))
    process.exit(1)
  }
)
