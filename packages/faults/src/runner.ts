/**
 * One runner process of the reference shop for the fault suite: `RecountNode.layerRunner` with
 * the shop's app and the API on its own port. Environment: `DATABASE_URL`, `RUNNER_NAME` (also
 * the application name of its database connections, so a fault can find them), `RUNNER_PORT`
 * (the cluster socket), `RECOUNT_HTTP_PORT` (the API), `RECOUNT_ADMIN_KEY`. Prints
 * `{"kind":"ready"}` once it serves.
 *
 * @since 0.1.0
 */
import { app } from "@recount/example-shop"
import * as Database from "@recount/postgres/Database"
import { PgPool } from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
import * as ApiConfig from "@recount/rpc/ApiConfig"
import * as ApiKeys from "@recount/rpc/ApiKeys"
import * as RecountServer from "@recount/rpc/RecountServer"
import * as RecountNode from "@recount/runtime/RecountNode"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"

const name = process.env.RUNNER_NAME ?? "runner"

const Node = RecountServer.layer.pipe(
  Layer.provide(ApiConfig.layerFromEnv),
  Layer.provideMerge(ApiKeys.layer()),
  Layer.provideMerge(RecountNode.layerRunner({ ...app(), host: "127.0.0.1", port: Number(process.env.RUNNER_PORT) })),
  Layer.provideMerge(PgStores.layer),
  Layer.provideMerge(Database.layerClient({ applicationName: name }).pipe(Layer.provide(Database.layerUrl)))
)

// The pool's own counts every 5 s, in the runner's log: evidence when a fault wedges a runner.
const PoolReport = Layer.scopedDiscard(Effect.flatMap(PgPool, (pool) =>
  Effect.forkScoped(Effect.repeat(
    Effect.sync(() => console.log(JSON.stringify({ kind: "pool", at: new Date().toISOString(), total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }))),
    Schedule.spaced("5 seconds")
  ))))

Effect.runFork(
  Layer.launch(Layer.merge(PoolReport, Layer.effectDiscard(Effect.sync(() => console.log(JSON.stringify({ kind: "ready", name, pid: process.pid }))))).pipe(Layer.provideMerge(Node))).pipe(
    Effect.catchAllCause((cause) => Effect.sync(() => {
      console.error(`runner ${name} failed`, Cause.pretty(cause))
      process.exit(1)
    }))
  )
)
