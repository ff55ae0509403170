import * as Effect from "effect/Effect"
import * as TestProcess from "@recount/testing/TestProcess"
import { type ChildProcess, spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** Bundles a runner entry point of this folder once per test file (see `TestProcess.bundle`). */
export const bundleOf = (entry: string) => TestProcess.bundle(Path.join(here, entry), Path.join(here, "..", "..", "build", "test-bundles"))

/** The runner of most multi-process tests (`runner.ts`). */
export const bundle = bundleOf("runner.ts")

export const freePort = TestProcess.freePort

export interface Runner {
  readonly name: string
  readonly port: number
  readonly process: ChildProcess
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Everything it printed so far (stdout and stderr). */
  readonly output: () => string
}

/**
 * Starts a runner child process and waits for it to join; kills it when the scope closes. With
 * `port`, it listens there (a restarted runner at its predecessor's address); else on a free port.
 */
export const start = (script: string, options: { readonly name: string; readonly databaseUrl: string; readonly port?: number | undefined }) =>
  Effect.gen(function*() {
    const port = options.port ?? (yield* freePort)
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [script], {
          env: { ...process.env, DATABASE_URL: options.databaseUrl, RUNNER_PORT: String(port), RUNNER_NAME: options.name },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let output = ""
    child.stderr!.on("data", (chunk) => (output += String(chunk)))
    yield* Effect.async<void, Error>((resume) => {
      child.stdout!.on("data", (chunk) => {
        output += String(chunk)
        if (output.includes("ready")) resume(Effect.void)
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`runner ${options.name} exited with ${code}: ${output}`))))
    }).pipe(Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`runner ${options.name} did not start: ${output}`) }), Effect.orDie)
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
    return {
      name: options.name,
      port,
      process: child,
      output: () => output,
      kill: (signal: NodeJS.Signals) => Effect.promise(() => {
        child.kill(signal)
        return exited
      })
    } satisfies Runner
  })
