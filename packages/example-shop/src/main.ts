/**
 * `npm start`, and the process of every node of a deployment: the shop with its projections,
 * workflows and API.
 *
 * - Alone (the default): one node hosting every shard, on the embedded PostgreSQL (or
 *   DATABASE_URL), the API on loopback. Without RECOUNT_ADMIN_KEY it generates a development key
 *   and prints it; the data stays in `.recount/pg` for the next start.
 * - One of many: with RECOUNT_RUNNER_HOST set, a cluster runner at RECOUNT_RUNNER_HOST:
 *   RECOUNT_RUNNER_PORT (the address the other nodes reach it at) sharing the shards with every
 *   node of the same DATABASE_URL.
 *
 * SIGTERM or SIGINT stops it gracefully: the API drains its in-flight requests (up to
 * RECOUNT_DRAIN_TIMEOUT), then the cluster hands its shards over, then the database closes (the
 * embedded server last). A shutdown still running 30 s after the drain timeout exits with 1.
 */
import * as EventStoreConfig from "@recount/core/EventStoreConfig"
import * as Database from "@recount/postgres/Database"
import * as PgStores from "@recount/postgres/PgStores"
import * as ApiConfig from "@recount/rpc/ApiConfig"
import * as ApiKeys from "@recount/rpc/ApiKeys"
import * as RecountServer from "@recount/rpc/RecountServer"
import * as RecountNode from "@recount/runtime/RecountNode"
import * as RuntimeConfig from "@recount/runtime/RuntimeConfig"
import * as Telemetry from "@recount/runtime/Telemetry"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"
import { app } from "./index.js"

/** A runner of a cluster was asked for without a shared database. */
class RunnerNeedsDatabase extends Schema.TaggedError<RunnerNeedsDatabase>()("RunnerNeedsDatabase", { runner: Schema.String }) {
  override get message() {
    return `RECOUNT_RUNNER_HOST is set (runner ${this.runner}) but DATABASE_URL is not: the nodes of a cluster share one PostgreSQL`
  }
}

/** Where this node's runner is reached by the others; none for a node alone. */
const runnerConfig = Config.all({
  host: Config.option(Config.nonEmptyString("RECOUNT_RUNNER_HOST")),
  port: Config.port("RECOUNT_RUNNER_PORT").pipe(Config.withDefault(34431))
})

const main = Effect.gen(function*() {
  const configured = yield* ApiKeys.bootstrapKeyConfig
  const key = Option.getOrElse(configured, () => Redacted.make(`dev-${randomBytes(24).toString("base64url")}`))
  const runner = yield* runnerConfig
  const runnerAddress = Option.map(runner.host, (host) => `${host}:${runner.port}`)
  if (Option.isSome(runnerAddress) && Option.isNone(yield* Config.option(Config.nonEmptyString("DATABASE_URL")))) {
    return yield* new RunnerNeedsDatabase({ runner: runnerAddress.value })
  }
  const cluster = Option.match(runner.host, {
    onNone: () => RecountNode.layerSingle(app()),
    onSome: (host) => RecountNode.layerRunner({ ...app(), host, port: runner.port })
  })
  const Node = RecountServer.layer.pipe(
    Layer.provide(ApiConfig.layerFromEnv),
    Layer.provideMerge(ApiKeys.layer({ bootstrapKey: key })),
    Layer.provideMerge(cluster),
    Layer.provideMerge(PgStores.layer),
    // The runner address names the node's connections, so pg_stat_activity (and the shard
    // locks they hold) shows which node is which.
    Layer.provideMerge(Database.layer({ applicationName: Option.match(runnerAddress, { onNone: () => "recount", onSome: (a) => `recount ${a}` }) })),
    // Every setting of the README's table: the store's and the runtime's limits, tracing and the
    // log format.
    Layer.provide(Layer.mergeAll(EventStoreConfig.layerFromEnv, RuntimeConfig.layerFromEnv, Telemetry.layerFromEnv))
  )
  let up = false
  return yield* Effect.gen(function*() {
    up = true
    const url = yield* RecountServer.url
    // A node listening on every interface is tried through loopback.
    const local = url.replace("//0.0.0.0:", "//127.0.0.1:")
    const db = yield* Database.DatabaseUrl
    const shown = Option.isSome(configured) ? "$RECOUNT_ADMIN_KEY" : Redacted.value(key)
    const client = `RECOUNT_URL=${local} RECOUNT_KEY=${shown}`
    console.log([
      Option.match(runnerAddress, {
        onNone: () => "Recount is up: the shop example on one node.",
        onSome: (a) => `Recount is up: the shop example, runner ${a} of the cluster on this database.`
      }),
      `  API        ${url}  (OpenAPI: ${url}/openapi.json)`,
      `  key        ${Option.isSome(configured) ? "(RECOUNT_ADMIN_KEY)" : `${shown}   (a development key, new at every start; set RECOUNT_ADMIN_KEY to choose one)`}`,
      `  database   ${db.source === "embedded" ? `embedded, data in ${Option.getOrElse(db.dataDir, () => "?")}` : "DATABASE_URL"}`,
      "",
      "Try:",
      `  curl -X POST ${local}/v1/default/aggregates/order/o-1/commands -H "Authorization: Bearer ${shown}" \\`,
      `       -H "Idempotency-Key: place-o-1" -d '{"_tag":"PlaceOrder","customerId":"c-1","lines":[{"sku":"tea","quantity":2,"price":4.5}]}'`,
      `  curl ${local}/v1/default/aggregates/order/o-1/state -H "Authorization: Bearer ${shown}"`,
      `  curl ${local}/v1/projections -H "Authorization: Bearer ${shown}"`,
      `  ${client} npm run recount -- state order o-1`,
      `  ${client} npm run demo -- --seconds 20`,
      "",
      "Ctrl-C stops it (in-flight commands finish first); the next start keeps the data."
    ].join("\n"))
    return yield* Effect.never
  }).pipe(
    Effect.provide(Node),
    // Three nodes starting together on a fresh database: one failed at start with a database
    // error (seen once in ThreeNodes.test.ts; concurrent creation of the migration tables, ours
    // or the cluster's, is the likely cause). A node whose start fails so starts again.
    Effect.sandbox,
    Effect.tapError((cause) => up || !isDatabaseError(cause) ? Effect.void : Effect.logWarning("the node did not start; trying again", cause)),
    Effect.retry({ times: 3, schedule: Schedule.spaced("2 seconds"), while: (cause) => !up && isDatabaseError(cause) }),
    Effect.unsandbox
  )
})

const isDatabaseError = (cause: Cause.Cause<unknown>) =>
  [...Cause.failures(cause), ...Cause.defects(cause)].some((e) =>
    typeof e === "object" && e !== null && "_tag" in e && (e._tag === "SqlError" || e._tag === "MigrationError"))

/** After the drain, the cluster hands its shards over (up to 15 s per entity) and the database closes. */
const shutdownMargin = Duration.seconds(30)

const fiber = Effect.runFork(main)
const stop = (signal: NodeJS.Signals) => {
  console.log(`${signal}: stopping (draining in-flight requests first)`)
  Effect.runFork(Fiber.interrupt(fiber))
  // A shutdown that hangs (a request that never ends holds a connection the pool waits for) must
  // not keep the node up forever: a supervisor would have to kill it without a word.
  const limit = Duration.sum(Effect.runSync(Effect.orElseSucceed(RecountServer.drainTimeoutConfig, () => Duration.seconds(10))), shutdownMargin)
  setTimeout(() => {
    console.error(`did not stop within ${Duration.format(limit)} of ${signal}; exiting`)
    process.exit(1)
  }, Duration.toMillis(limit)).unref()
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
    console.error(Cause.pretty(exit.cause))
    // A database error's own message (the statement's error) is in its cause.
    for (const error of Cause.failures(exit.cause)) {
      if (typeof error === "object" && error !== null && "cause" in error && error.cause !== undefined) console.error(`caused by: ${String(error.cause)}`)
    }
    process.exitCode = 1
  }
  // Everything is closed by now; a socket nobody uses any more must not keep the process up.
  setImmediate(() => process.exit())
})
