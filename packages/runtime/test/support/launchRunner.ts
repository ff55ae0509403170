// What every runner process of the multi-process tests does with its app: join the cluster on
// `DATABASE_URL` at `RUNNER_PORT` (connections named `RUNNER_NAME`) and print "ready".
import * as PgPool from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as RecountNode from "../../src/RecountNode.js"

export const launchRunner = (app: RecountNode.App): void => {
  const Live = RecountNode.layerRunner({ ...app, host: "127.0.0.1", port: Number(process.env.RUNNER_PORT) }).pipe(
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
}
