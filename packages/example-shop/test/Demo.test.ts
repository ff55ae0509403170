import { describe, expect, it, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as ApiConfig from "@recount/rpc/ApiConfig"
import * as ApiKeys from "@recount/rpc/ApiKeys"
import * as RecountServer from "@recount/rpc/RecountServer"
import * as EventWorkflow from "@recount/runtime/EventWorkflow"
import * as RecountNode from "@recount/runtime/RecountNode"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as TestProcess from "@recount/testing/TestProcess"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { type ChildProcess, spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as DemoLoad from "../src/DemoLoad.js"
import * as DemoSummary from "../src/DemoSummary.js"
import * as Progress from "../src/internal/progress.js"
import { app, OrderFulfilment } from "../src/index.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
const key = "demo-test-key"
const Node = RecountServer.layer.pipe(
  Layer.provide(ApiConfig.layer({ port: 0 })),
  Layer.provideMerge(ApiKeys.layer({ bootstrapKey: Redacted.make(key) })),
  Layer.provideMerge(RecountNode.layerSingle(app())),
  Layer.provideMerge(TestDatabase.layerStores())
)

describe("the demo's progress", () => {
  it("redraws one bar in place on a terminal and ends its line", () => {
    const written: Array<string> = []
    const bar = Progress.make({ write: (t) => written.push(t), isTTY: true }, 20)
    bar.update(5, "orders 3")
    bar.update(25, "orders 9")
    bar.done()
    expect(written).toEqual([
      `\r[${"#".repeat(8)}${"-".repeat(22)}]  5/20 s  orders 3\x1b[K`,
      `\r[${"#".repeat(30)}] 20/20 s  orders 9\x1b[K`,
      "\n"
    ])
  })
})

layer(Node, { excludeTestServices: true, timeout: 180_000 })("npm run demo", (it) => {
  it.effect("drives orders over the API for a few seconds; its summary agrees with the store", () =>
    Effect.gen(function*() {
      const url = yield* RecountServer.url
      const printed: Array<string> = []
      const summary = yield* DemoLoad.run({ url, apiKey: key, seconds: 3, concurrency: 4, output: { write: (t) => printed.push(t), isTTY: false } })
      const sql = yield* SqlClient.SqlClient
      const like = `%-${summary.run}-%`

      // Progress lines while it ran, then a summary that names every part.
      expect(printed.length).toBeGreaterThanOrEqual(2)
      expect(printed.every((line) => /^\d+\/3 s {2}orders \d+ {2}commands \d+ ok, \d+ failed\n$/.test(line))).toBe(true)
      const text = DemoSummary.format(summary)
      for (const part of ["commands", "events", "workflows", "projections"]) expect(text).toContain(part)

      expect(summary.orders.placed).toBeGreaterThan(0)
      expect(summary.orders.placed).toBe(summary.orders.card + summary.orders.refusedCard + summary.orders.invoice)
      expect(summary.commands.failed).toBe(0)

      // Every command it counted as ok is recorded with its events, under the run's command ids.
      const [commands] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM recount_commands WHERE command_id LIKE ${`${summary.run}/%`}`
      expect(commands!.n).toBe(summary.commands.ok)
      // The events of the run's streams, the saga's included, are what it reports.
      const [events] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM recount_events WHERE stream_name LIKE ${like}`
      expect(events!.n).toBe(summary.events)
      const [placed] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM recount_events WHERE event_type = 'OrderPlaced' AND stream_name LIKE ${like}`
      expect(placed!.n).toBe(summary.orders.placed)

      // Saga outcomes, as the runtime lists the run's executions.
      const executions = (yield* EventWorkflow.executions(OrderFulfilment, { limit: 10_000 }))
        .filter((x) => String((x.payload as { orderId?: unknown }).orderId).startsWith(`${summary.run}-`))
      const inState = (...states: ReadonlyArray<string>) => executions.filter((x) => states.includes(x.status)).length
      expect(executions.length).toBe(summary.orders.placed)
      expect(summary.workflows).toEqual({ completed: inState("completed"), compensated: inState("failed"), failed: 0, pending: inState("running", "suspended"), from: "workflows" })
      // Which agrees with the orders in the store: every compensated order is cancelled, every
      // completed one shipped (an invoice's saga is still pending after its order shipped).
      const outcomes = yield* sql<{ last: string; n: number }>`
        SELECT last, count(*)::int AS n FROM (
          SELECT DISTINCT ON (stream_name) event_type AS last FROM recount_events
          WHERE category = 'order' AND stream_name LIKE ${like} ORDER BY stream_name, stream_version DESC) x
        GROUP BY last`
      const ended = (...types: ReadonlyArray<string>) => outcomes.filter((o) => types.includes(o.last)).reduce((n, o) => n + o.n, 0)
      expect(ended("OrderCancelled")).toBe(summary.workflows.compensated)
      expect(ended("OrderShipped", "OrderDelivered")).toBeGreaterThanOrEqual(summary.workflows.completed)
      const statusAfter: Record<string, string> = { OrderPlaced: "placed", OrderPaid: "paid", OrderShipped: "shipped", OrderDelivered: "delivered", OrderCancelled: "cancelled" }
      expect(summary.orderStatus).toEqual(Object.fromEntries(outcomes.map((o) => [statusAfter[o.last], o.n])))
      expect(summary.workflows.completed).toBeGreaterThan(0)
      const [refused] = yield* sql<{ n: number }>`
        SELECT count(*)::int AS n FROM recount_events WHERE event_type = 'OrderCancelled' AND data->>'reason' LIKE 'payment refused%' AND stream_name LIKE ${like}`
      expect(refused!.n).toBe(summary.orders.refusedCard)

      // The bootstrap key reads every projection's lag.
      expect("unavailable" in summary.projections).toBe(false)
      expect((summary.projections as ReadonlyArray<DemoSummary.Lag>).map((p) => p.name)).toEqual(
        expect.arrayContaining(["order-summaries", "customer-history", "daily-sales", "notifications"]))
    }))

  it.effect("says clearly when nobody listens, or the key is wrong", () =>
    Effect.gen(function*() {
      const port = yield* TestProcess.freePort
      const down = yield* Effect.flip(DemoLoad.run({ url: `http://127.0.0.1:${port}`, apiKey: key, seconds: 1, concurrency: 1 }))
      expect(down.message).toBe(`cannot reach http://127.0.0.1:${port}: ECONNREFUSED`)
      const url = yield* RecountServer.url
      const refused = yield* Effect.flip(DemoLoad.run({ url, apiKey: "not-a-key", seconds: 1, concurrency: 1 }))
      expect(refused._tag).toBe("KeyRefused")
    }))

  it.effect("npm run demo's command line: a JSON summary, one-line errors and exit codes", () =>
    Effect.gen(function*() {
      const url = yield* RecountServer.url
      const script = yield* TestProcess.bundle(Path.join(here, "..", "src", "demo.ts"), Path.join(here, "..", "build", "test-bundles"))
      /** Runs the command line; `onOutput` sees stderr as it grows. */
      const demo = (args: ReadonlyArray<string>, env: Record<string, string>, onOutput?: (stderr: string, child: ChildProcess) => void) =>
        Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
          const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, RECOUNT_URL: url, ...env }, stdio: ["ignore", "pipe", "pipe"] })
          let stdout = ""
          let stderr = ""
          child.stdout.on("data", (chunk) => (stdout += String(chunk)))
          child.stderr.on("data", (chunk) => {
            stderr += String(chunk)
            onOutput?.(stderr, child)
          })
          child.once("exit", (code) => resume(Effect.succeed({ code, stdout, stderr })))
          return Effect.sync(() => child.kill("SIGKILL"))
        })

      // The first Ctrl-C ends the load early; the summary still comes, as JSON on stdout (progress on stderr).
      let interrupted = false
      const stopped = yield* demo(["--seconds", "600", "--concurrency", "2", "--json"], { RECOUNT_KEY: key }, (stderr, child) => {
        if (!interrupted && /^0\/600 s {2}orders \d+/m.test(stderr)) {
          interrupted = true
          child.kill("SIGINT")
        }
      })
      expect(stopped.code).toBe(0)
      expect(stopped.stderr).toContain("stopping: the last orders settle")
      const early = JSON.parse(stopped.stdout) as DemoSummary.Summary
      expect(early.loadSeconds).toBeLessThan(60)
      expect(early.commands).toMatchObject({ failed: 0 })
      expect(early.commands.ok).toBeGreaterThan(0)

      const noKey = yield* demo(["--seconds", "1"], { RECOUNT_KEY: "" })
      expect(noKey).toMatchObject({ code: 1, stderr: "demo: no API key: pass --key or set RECOUNT_KEY (npm start prints a development key)\n" })
      const badKey = yield* demo(["--seconds", "1", "--key", "wrong"], {})
      expect(badKey.code).toBe(1)
      expect(badKey.stderr).toMatch(/^demo: the node refused the API key: /)
      const badFlag = yield* demo(["--seconds", "0", "--key", key], {})
      expect(badFlag.code).toBe(2)
      expect(badFlag.stderr + badFlag.stdout).toContain("--seconds must be a positive whole number")
    }), { timeout: 120_000 })
})
