import { expect, it } from "@effect/vitest"
import * as EmbeddedPostgres from "@recount/postgres/EmbeddedPostgres"
import * as TestProcess from "@recount/testing/TestProcess"
import * as Effect from "effect/Effect"
import { execSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** The commands `npm start` prints under "Try:", continuation lines joined. */
const printedCommands = (output: string) => {
  const block = output.slice(output.indexOf("Try:") + "Try:".length, output.indexOf("Ctrl-C"))
  return block.replace(/\\\n\s*/g, " ").split("\n").map((line) => line.trim()).filter((line) => line.length > 0)
}
const root = Path.join(here, "..", "..", "..")

it.live("the quick start as a newcomer meets it: npm start's node on a fresh embedded PostgreSQL answers the curl and CLI commands it prints, and keeps its data for the next start", () =>
  Effect.gen(function*() {
    if (spawnSync("curl", ["--version"]).status !== 0) return yield* Effect.dieMessage("curl is needed for this test")
    const dataDir = yield* EmbeddedPostgres.makeTempDir("recount-quickstart-")
    const port = yield* TestProcess.freePort
    const script = yield* TestProcess.bundle(Path.join(here, "..", "src", "main.ts"), Path.join(here, "..", "build", "test-bundles"))
    const startNode = (port: number) =>
      Effect.gen(function*() {
        const node = yield* TestProcess.start(script, { RECOUNT_PG_DATA_DIR: Path.join(dataDir, "pg"), RECOUNT_HTTP_PORT: String(port), DATABASE_URL: undefined })
        yield* Effect.async<void, Error>((resume) => {
          const timer = setInterval(() => {
            if (node.output().includes("Ctrl-C")) resume(Effect.void)
            else if (node.process.exitCode !== null) resume(Effect.fail(new Error(`npm start's node exited: ${node.output()}`)))
          }, 100)
          return Effect.sync(() => clearInterval(timer))
        }).pipe(Effect.timeout("90 seconds"))
        return node
      })
    /** Ctrl-C: the node stops, with exit code 0. */
    const interrupt = (node: Effect.Effect.Success<ReturnType<typeof startNode>>) =>
      Effect.gen(function*() {
        const exited = new Promise<number | null>((resolve) => node.process.once("exit", (code) => resolve(code)))
        node.process.kill("SIGINT")
        expect(yield* Effect.promise(() => exited).pipe(Effect.timeout("30 seconds"))).toBe(0)
      })
    const node = yield* startNode(port)
    const output = node.output()
    expect(output).toContain(`http://127.0.0.1:${port}`)
    expect(output).toMatch(/key\s+dev-[A-Za-z0-9_-]+/)
    const commands = printedCommands(output)
    const curls = commands.filter((line) => line.startsWith("curl "))
    expect(curls.length).toBe(3)
    const run = (command: string) => JSON.parse(execSync(`${command} --silent --show-error`, { encoding: "utf8", timeout: 30_000 }))
    expect(run(curls[0]!)).toMatchObject({ aggregate: "order", aggregateId: "o-1", streamVersion: 1, alreadyApplied: false })
    expect(run(curls[1]!)).toMatchObject({ version: 1, state: { status: "placed", customerId: "c-1", total: 9 } })
    const status = run(curls[2]!) as ReadonlyArray<{ name: string }>
    expect(status.map((s) => s.name)).toEqual(expect.arrayContaining(["order-summaries", "start-OrderFulfilment"]))
    // The CLI command, run from the repository as printed: the order's state as a table.
    const cli = commands.find((line) => line.includes("npm run recount -- "))
    expect(cli).toMatch(/^RECOUNT_URL=\S+ RECOUNT_KEY=dev-\S+ npm run recount -- state order o-1$/)
    const table = execSync(cli!, { cwd: root, encoding: "utf8", timeout: 120_000, env: { ...process.env, RECOUNT_URL: "", RECOUNT_KEY: "" } })
    expect(table).toMatch(/\(version\)\s+\d+/)
    expect(table).toMatch(/customerId\s+c-1/)
    expect(table).toMatch(/total\s+9/)
    // And the demo load, a script of the repository.
    const demo = commands.find((line) => line.includes("npm run demo -- "))
    expect(demo).toMatch(/^RECOUNT_URL=\S+ RECOUNT_KEY=dev-\S+ npm run demo -- --seconds 20$/)
    expect(JSON.parse(readFileSync(Path.join(root, "package.json"), "utf8")).scripts.demo).toBeDefined()
    // Ctrl-C stops it; the next start keeps the data (a new development key, the same order).
    yield* interrupt(node)
    const again = yield* startNode(yield* TestProcess.freePort)
    const stateCurl = printedCommands(again.output()).filter((line) => line.startsWith("curl "))[1]!
    expect(run(stateCurl)).toMatchObject({ state: { customerId: "c-1", total: 9 } })
    yield* interrupt(again)
  }).pipe(Effect.scoped), { timeout: 180_000 })
