/**
 * The runner processes of a fault run: the shop on `RecountNode.layerRunner` (`runner.ts`,
 * bundled), each on fixed ports so that a restarted runner is found where it was. Their output
 * goes to `<name>.log` in the run's folder.
 *
 * @since 0.1.0
 */
import * as TestProcess from "@recount/testing/TestProcess"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import { createWriteStream } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** @since 0.1.0 */
export interface Runner {
  readonly name: string
  /** The API's base URL. */
  readonly url: string
  /** The process id of its current incarnation; undefined while it is down. */
  readonly pid: () => number | undefined
  readonly up: () => boolean
  /** Sends a signal; for SIGKILL and SIGTERM it waits until the process is gone. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Starts it again (after a kill) and waits until it serves. */
  readonly restart: Effect.Effect<void, Error>
}

/** The runner entry point, bundled once per run (a bundle starts in well under a second). */
export const bundle = (outDir: string) =>
  TestProcess.bundle(Path.join(Path.dirname(fileURLToPath(import.meta.url)), "runner.ts"), outDir)

/**
 * Starts `count` runners one after the other (the first one runs the migrations); they are
 * SIGKILLed when the scope closes, if still alive.
 *
 * @since 0.1.0
 */
export const start = (options: {
  readonly script: string
  readonly count: number
  readonly databaseUrl: string
  readonly adminKey: string
  readonly logDir: string
  readonly env?: Record<string, string> | undefined
}): Effect.Effect<ReadonlyArray<Runner>, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const runners: Array<Runner> = []
    for (let i = 0; i < options.count; i++) {
      const name = `runner-${i + 1}`
      const apiPort = yield* TestProcess.freePort
      const clusterPort = yield* TestProcess.freePort
      const log = createWriteStream(Path.join(options.logDir, `${name}.log`), { flags: "a" })
      yield* Effect.addFinalizer(() => Effect.sync(() => log.end()))
      let current: TestProcess.Started | undefined
      let exited: Promise<void> = Promise.resolve()

      const launch = Effect.gen(function*() {
        const started = yield* TestProcess.start(options.script, {
          ...options.env,
          DATABASE_URL: options.databaseUrl,
          RUNNER_NAME: name,
          RUNNER_PORT: String(clusterPort),
          RECOUNT_HTTP_PORT: String(apiPort),
          RECOUNT_ADMIN_KEY: options.adminKey
        }).pipe(Scope.extend(scope))
        const child = started.process
        child.stdout!.on("data", (chunk) => log.write(chunk))
        child.stderr!.on("data", (chunk) => log.write(chunk))
        exited = new Promise((resolve) => child.once("exit", () => resolve()))
        current = started
        yield* started.waitFor((m) => (m as { kind?: string }).kind === "ready", 120_000)
      })

      yield* launch
      const up = () => current !== undefined && current.process.exitCode === null && current.process.signalCode === null
      runners.push({
        name,
        url: `http://127.0.0.1:${apiPort}`,
        pid: () => (up() ? current!.process.pid : undefined),
        up,
        signal: (signal) =>
          Effect.suspend(() => {
            if (!up()) return Effect.void
            current!.process.kill(signal)
            return signal === "SIGKILL" || signal === "SIGTERM" ? Effect.promise(() => exited) : Effect.void
          }),
        restart: Effect.suspend(() => (up() ? Effect.void : Effect.zipRight(Effect.promise(() => exited), launch)))
      })
    }
    return runners
  })
