// A runner process for the restart test (`DATABASE_URL`, `RUNNER_PORT`, `RUNNER_NAME`): bank
// accounts and a saga with a compensation. Prints "ready" once it has joined the cluster.
import * as PgPool from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
import { BankAccount } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as RecountNode from "../../src/RecountNode.js"
import * as Workflows from "../../src/Workflows.js"
import * as CompensatedJob from "./compensatedJob.js"

const Live = RecountNode.layerRunner({
  aggregates: [BankAccount],
  workflows: [Workflows.register(CompensatedJob.CompensatedJob, CompensatedJob.layer)],
  triggers: [CompensatedJob.trigger],
  host: "127.0.0.1",
  port: Number(process.env.RUNNER_PORT)
}).pipe(
  Layer.provideMerge(PgStores.layer),
  Layer.provideMerge(PgPool.layer({
    url: Redacted.make(process.env.DATABASE_URL!),
    maxConnections: 20,
    applicationName: process.env.RUNNER_NAME ?? "runner"
  }))
)

Effect.runFork(
  Layer.launch(Layer.merge(Live, Layer.effectDiscard(Effect.sync(() => console.log("ready"))))).pipe(
    Effect.tapErrorCause((cause) => Effect.sync(() => console.error("runner failed", cause)))
  )
)
