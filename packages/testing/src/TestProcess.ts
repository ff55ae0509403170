/**
 * Real child processes for tests that kill a node or need a client in another process: bundle a
 * TypeScript entry point with esbuild (starting through tsx takes about 10 s; a bundle starts in
 * well under one), start it, and read what it prints.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync, rmSync } from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"

/**
 * Bundles `entry` into `outDir`. Workspace packages (`@recount/*`, TypeScript sources) are bundled;
 * every other import loads from node_modules. The bundle is deleted when this process exits.
 *
 * @since 0.1.0
 */
export const bundle = (entry: string, outDir: string) =>
  Effect.promise(async () => {
    const esbuild = await import("esbuild")
    const base = Path.basename(entry, ".ts")
    const outfile = Path.join(outDir, `${base}-${process.pid}.mjs`)
    sweepBundles(outDir, base)
    await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "error",
      plugins: [{
        name: "externals",
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, (args) => args.path.startsWith("@recount/") ? undefined : { path: args.path, external: true })
        }
      }]
    })
    // One bundle per test process and entry, deleted when that process exits (test workers are
    // often killed instead: the next bundle of the entry sweeps theirs).
    process.once("exit", () => rmSync(outfile, { force: true }))
    return outfile
  })

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Deletes the bundles of `base` made by processes that are gone. */
const sweepBundles = (outDir: string, base: string) => {
  let names: Array<string>
  try {
    names = readdirSync(outDir)
  } catch {
    return
  }
  for (const name of names) {
    if (!name.startsWith(`${base}-`) || !name.endsWith(".mjs")) continue
    const pid = Number(name.slice(base.length + 1, -4))
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) rmSync(Path.join(outDir, name), { force: true })
  }
}

/**
 * A free TCP port on loopback.
 *
 * @since 0.1.0
 */
export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** @since 0.1.0 */
export interface Started {
  readonly process: ChildProcess
  /** Everything it printed so far, stdout and stderr. */
  readonly output: () => string
  /** Stdout lines that parse as JSON, in order. */
  readonly messages: () => ReadonlyArray<unknown>
  /** Resolves when a JSON message satisfies `test`; fails if the process exits first. */
  readonly waitFor: (test: (message: unknown) => boolean, timeoutMillis?: number) => Effect.Effect<unknown, Error>
}

/**
 * Starts `node <script>` with extra environment variables (`undefined` removes one); SIGKILLs it
 * when the scope closes.
 *
 * @since 0.1.0
 */
export const start = (script: string, env: Record<string, string | undefined>) =>
  Effect.gen(function*() {
    const merged: Record<string, string> = {}
    for (const [name, value] of Object.entries({ ...process.env, ...env })) if (value !== undefined) merged[name] = value
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, [script], { env: merged, stdio: ["ignore", "pipe", "pipe"] })),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let output = ""
    let pending = ""
    const messages: Array<unknown> = []
    const listeners = new Set<() => void>()
    child.stderr!.on("data", (chunk) => (output += String(chunk)))
    child.stdout!.on("data", (chunk) => {
      output += String(chunk)
      pending += String(chunk)
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) {
        try {
          messages.push(JSON.parse(line))
        } catch {
          // Not a message: log output.
        }
      }
      for (const listener of listeners) listener()
    })
    child.once("exit", () => {
      for (const listener of listeners) listener()
    })
    const waitFor = (test: (message: unknown) => boolean, timeoutMillis = 60_000) =>
      Effect.async<unknown, Error>((resume) => {
        const check = () => {
          const found = messages.find(test)
          if (found !== undefined) resume(Effect.succeed(found))
          else if (child.exitCode !== null || child.signalCode !== null) resume(Effect.fail(new Error(`the process exited (${child.exitCode ?? child.signalCode}): ${output}`)))
        }
        listeners.add(check)
        check()
        return Effect.sync(() => listeners.delete(check))
      }).pipe(Effect.timeoutFail({ duration: timeoutMillis, onTimeout: () => new Error(`no such message within ${timeoutMillis} ms: ${output}`) }))
    return { process: child, output: () => output, messages: () => messages, waitFor } satisfies Started
  })
