import { expect, layer } from "@effect/vitest"
import * as RecountServer from "@recount/rpc/RecountServer"
import { CommandBus } from "@recount/runtime/CommandBus"
import { BankAccount, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import { execFile, spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { bootstrapKey, layerNode } from "./support/node.js"

const bin = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..", "bin", "recount.js")

/** The `recount` binary in its own process, as an operator runs it. */
const recount = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, ...args], { env: { ...process.env, RECOUNT_URL: "", RECOUNT_KEY: "", ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }))
    }))

layer(layerNode, { excludeTestServices: true, timeout: 120_000 })("the recount binary", (it) => {
  it.effect("prints JSON, and exits non-zero with the error's message", () =>
    Effect.gen(function*() {
      const url = yield* RecountServer.url
      const listed = yield* recount(["keys", "list", "--json"], { RECOUNT_URL: url, RECOUNT_KEY: bootstrapKey })
      expect(listed.code).toBe(0)
      expect(Array.isArray(JSON.parse(listed.stdout))).toBe(true)
      const refused = yield* recount(["keys", "list", "--url", url, "--key", "rk_nope"])
      expect(refused.code).toBe(1)
      expect(refused.stdout).toBe("")
      expect(refused.stderr.trim()).toMatch(/^recount: unauthorized: .+$/)
    }))

  it.effect("events tail follows until Ctrl-C, then exits", () =>
    Effect.gen(function*() {
      const url = yield* RecountServer.url
      yield* Effect.flatMap(CommandBus, (bus) => bus.dispatch(BankAccount, "tail-1", new Open({ owner: "Ada" })))
      const exit = yield* Effect.promise(() =>
        new Promise<{ code: number | null; signal: string | null; stdout: string }>((resolve) => {
          const child = spawn(process.execPath, [bin, "events", "tail", "--from-start"], {
            env: { ...process.env, RECOUNT_URL: url, RECOUNT_KEY: bootstrapKey },
            stdio: ["ignore", "pipe", "inherit"]
          })
          let stdout = ""
          // Ctrl-C once it is following: it has printed the event.
          child.stdout.on("data", (chunk: Buffer) => {
            if (stdout === "") setTimeout(() => child.kill("SIGINT"), 200)
            stdout += chunk.toString()
          })
          child.on("exit", (code, signal) => resolve({ code, signal, stdout }))
        }))
      expect(exit).toMatchObject({ code: 130, signal: null })
      expect(exit.stdout).toMatch(/account-tail-1@1 {2}Opened {2}\{"owner":"Ada"\}/)
    }), 60_000)
})
