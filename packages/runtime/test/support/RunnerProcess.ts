import * as Effect from "effect/Effect"
import * as esbuild from "esbuild"
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))

/**
 * Bundles the runner once per test file. Starting through tsx costs about 10 s; a bundle whose
 * only externals are npm packages starts in well under a second.
 */
export const bundle = Effect.promise(async () => {
  const outfile = Path.join(here, "..", "..", "build", "test-bundles", `runner-${process.pid}.mjs`)
  await esbuild.build({
    entryPoints: [Path.join(here, "runner.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
    plugins: [{
      name: "externals",
      setup(build) {
        // Workspace packages are TypeScript sources: bundle them. Everything else loads from node_modules.
        build.onResolve({ filter: /^[^./]/ }, (args) => args.path.startsWith("@recount/") ? undefined : { path: args.path, external: true })
      }
    }]
  })
  return outfile
})

export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

export interface Runner {
  readonly name: string
  readonly port: number
  readonly process: ChildProcess
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
}

/** Starts a runner child process and waits for it to join; kills it when the scope closes. */
export const start = (script: string, options: { readonly name: string; readonly databaseUrl: string }) =>
  Effect.gen(function*() {
    const port = yield* freePort
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
      kill: (signal: NodeJS.Signals) => Effect.promise(() => {
        child.kill(signal)
        return exited
      })
    } satisfies Runner
  })
