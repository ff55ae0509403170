/**
 * `npm start`'s node (main.ts, bundled) as a real child process, for the tests that start it as a
 * newcomer or an operator does: on its own, as one of three runners, and stopped by a signal.
 */
import * as TestProcess from "@recount/testing/TestProcess"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** Bundles main.ts (once per test file). */
export const bundle = TestProcess.bundle(Path.join(here, "..", "..", "src", "main.ts"), Path.join(here, "..", "..", "build", "test-bundles"))

/** The line main.ts prints last once it is up. */
export const upLine = "Ctrl-C stops it"

const waitUntilUp = (node: { readonly output: () => string; readonly process: { readonly exitCode: number | null; readonly signalCode: NodeJS.Signals | null } }) =>
  Effect.async<void, Error>((resume) => {
    const timer = setInterval(() => {
      if (node.output().includes(upLine)) resume(Effect.void)
      else if (node.process.exitCode !== null || node.process.signalCode !== null) resume(Effect.fail(new Error(`the node exited: ${node.output()}`)))
    }, 100)
    return Effect.sync(() => clearInterval(timer))
  }).pipe(Effect.timeoutFail({ duration: "90 seconds", onTimeout: () => new Error(`the node did not start: ${node.output()}`) }), Effect.orDie)

/** Starts a node and waits until it has printed its greeting; SIGKILLed when the scope closes. */
export const start = (script: string, env: Record<string, string | undefined>) =>
  Effect.gen(function*() {
    const node = yield* TestProcess.start(script, env)
    yield* waitUntilUp(node)
    const exited = new Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resolve) =>
      node.process.once("exit", (code, signal) => resolve({ code, signal })))
    return { ...node, exited: Effect.promise(() => exited) }
  })

/**
 * Starts a node as a terminal does, leading a process group of its own (so a test can signal
 * the whole group, as Ctrl-C does, without signalling itself).
 */
export const startInGroup = (script: string, env: Record<string, string | undefined>) =>
  Effect.gen(function*() {
    const merged: Record<string, string> = {}
    for (const [name, value] of Object.entries({ ...process.env, ...env })) if (value !== undefined) merged[name] = value
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, [script], { env: merged, detached: true, stdio: ["ignore", "pipe", "pipe"] })),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let output = ""
    child.stdout!.on("data", (chunk) => (output += String(chunk)))
    child.stderr!.on("data", (chunk) => (output += String(chunk)))
    const exited = new Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })))
    const node = { process: child, output: () => output, exited: Effect.promise(() => exited) }
    yield* waitUntilUp(node)
    return node
  })
