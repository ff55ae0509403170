// Run by EmbeddedPostgres.test.ts: starts a throwaway server and prints {"url"} once it is up.
// With HANDLE_SIGTERM=1 it handles SIGTERM itself, as a draining node does: a second later it
// queries the server (still up), closes its scope (which stops the server) and exits 0. With
// EXIT=1 it exits at once, leaving its scope open.
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as EmbeddedPostgres from "../../src/EmbeddedPostgres.js"

const query = (url: Redacted.Redacted<string>) =>
  Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe<{ one: number }>("SELECT 1 AS one")).pipe(
    Effect.provide(PgClient.layer({ url, maxConnections: 1 })),
    Effect.scoped
  )

const scope = Effect.runSync(Scope.make())
if (process.env.HANDLE_SIGTERM === "1") {
  process.once("SIGTERM", () => {
    setTimeout(() => {
      void Effect.runPromise(Effect.gen(function*() {
        const rows = yield* query(Redacted.make(process.env.SERVER_URL!))
        console.log(JSON.stringify({ queriedAfterSignal: rows[0]?.one }))
        yield* Scope.close(scope, Exit.void)
        console.log(JSON.stringify({ stopped: true }))
      })).then(() => process.exit(0), (e) => {
        console.error(String(e))
        process.exit(1)
      })
    }, 1000)
  })
}
void Effect.runPromise(Scope.extend(EmbeddedPostgres.startEphemeral(), scope)).then((running) => {
  process.env.SERVER_URL = Redacted.value(running.url)
  console.log(JSON.stringify({ url: Redacted.value(running.url) }))
  // EXIT=1: leave without closing the scope, as a process that calls process.exit does.
  if (process.env.EXIT === "1") setTimeout(() => process.exit(3), 100)
})
