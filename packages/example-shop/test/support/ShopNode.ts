/**
 * `npm start`'s node (main.ts, bundled) as a real child process, for the tests that start it as a
 * newcomer or an operator does: on its own, as one of three runners, and stopped by a signal.
 */
import * as TestProcess from "@recount/testing/TestProcess"
import * as Effect from "effect/Effect"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** Bundles main.ts (once per test file). */
export const bundle = TestProcess.bundle(Path.join(here, "..", "..", "src", "main.ts"), Path.join(here, "..", "..", "build", "test-bundles"))

/** The line main.ts prints last once it is up. */
export const upLine = "Ctrl-C stops it"

/** Starts a node and waits until it has printed its greeting; SIGKILLed when the scope closes. */
export const start = (script: string, env: Record<string, string | undefined>) =>
  Effect.gen(function*() {
    const node = yield* TestProcess.start(script, env)
    yield* Effect.async<void, Error>((resume) => {
      const timer = setInterval(() => {
        if (node.output().includes(upLine)) resume(Effect.void)
        else if (node.process.exitCode !== null || node.process.signalCode !== null) resume(Effect.fail(new Error(`the node exited: ${node.output()}`)))
      }, 100)
      return Effect.sync(() => clearInterval(timer))
    }).pipe(Effect.timeoutFail({ duration: "90 seconds", onTimeout: () => new Error(`the node did not start: ${node.output()}`) }), Effect.orDie)
    const exited = new Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resolve) =>
      node.process.once("exit", (code, signal) => resolve({ code, signal })))
    return { ...node, exited: Effect.promise(() => exited) }
  })
