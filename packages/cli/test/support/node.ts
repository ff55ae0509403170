import * as SqlClient from "@effect/sql/SqlClient"
import * as ApiConfig from "@recount/rpc/ApiConfig"
import * as ApiKeys from "@recount/rpc/ApiKeys"
import * as RecountServer from "@recount/rpc/RecountServer"
import * as Projection from "@recount/runtime/Projection"
import * as ReadModelTable from "@recount/runtime/ReadModelTable"
import * as RecountNode from "@recount/runtime/RecountNode"
import { BankAccount } from "@recount/testing/TestAggregates"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { main } from "../../src/Cli.js"

export const bootstrapKey = "bootstrap-admin-key-for-cli-tests"

/** Account balances: a read model the CLI can pause, resume and rebuild. */
export const Balances = ReadModelTable.make({
  name: "cli_balances",
  table: "cli_balances",
  columns: { account: "text", balance: "double precision" },
  key: "account",
  events: BankAccount.events,
  on: {
    Opened: (_, env) => ({ key: env.streamName, set: { balance: 0 } }),
    Deposited: (e, env) => ({ key: env.streamName, increment: { balance: e.amount } }),
    Withdrawn: (e, env) => ({ key: env.streamName, increment: { balance: -e.amount } })
  }
})

/** Parks every deposit of 13 after one try: dead letters to list, retry and skip. */
export const Choker = Projection.make({
  name: "cli_choker",
  events: BankAccount.events,
  tables: [],
  maxAttempts: 1,
  backoff: "10 millis",
  handle: (event) =>
    event._tag === "Deposited" && event.amount === 13
      ? Effect.fail(new Error("cannot handle 13"))
      : Effect.asVoid(SqlClient.SqlClient)
})

/** A node running `app` with the API on a free loopback port, on a fresh database. */
export const layerNodeWith = (app: RecountNode.App) =>
  RecountServer.layer.pipe(
    Layer.provide(ApiConfig.layer({ port: 0 })),
    Layer.provideMerge(ApiKeys.layer({ bootstrapKey: Redacted.make(bootstrapKey) })),
    Layer.provideMerge(RecountNode.layerSingle(app)),
    Layer.provideMerge(TestDatabase.layerStores())
  )

/** A node with the API on a free loopback port and two projections, on a fresh database. */
export const layerNode = layerNodeWith({ aggregates: [BankAccount], projections: [Balances, Choker] })

/** What one run of the CLI did. */
export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Starts the CLI in this process with `args`; what it prints so far is in `out` and `err`. */
export const start = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const base = yield* Effect.console
    const text = (parts: ReadonlyArray<unknown>) => parts.map(String).join(" ")
    const captured: Console.Console = {
      ...base,
      log: (...parts) => Effect.sync(() => void out.push(text(parts))),
      error: (...parts) => Effect.sync(() => void err.push(text(parts))),
      unsafe: { ...base.unsafe, log: (...parts) => void out.push(text(parts)), error: (...parts) => void err.push(text(parts)) }
    }
    const fiber = yield* Effect.fork(Console.withConsole(main(args), captured))
    return { out, err, fiber }
  })

/** Runs the CLI in this process with `args` to the end, capturing what it prints. */
export const cli = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { err, fiber, out } = yield* start(...args)
    const code = yield* Fiber.join(fiber)
    return { code, stdout: out.join("\n"), stderr: err.join("\n") } satisfies Run
  })

/** The CLI against the test node with the given key (the bootstrap key by default). */
export const cliAt = (key: string = bootstrapKey) => (...args: ReadonlyArray<string>) =>
  Effect.flatMap(RecountServer.url, (url) => cli(...args, "--url", url, "--key", key))

/** Parses a run's JSON output, failing the test with the run when it is not JSON. */
export const json = <A = unknown>(run: Run): A => {
  try {
    return JSON.parse(run.stdout) as A
  } catch {
    throw new Error(`not JSON (exit ${run.code}): ${run.stdout}\n${run.stderr}`)
  }
}

export { eventually } from "@recount/testing/Eventually"
