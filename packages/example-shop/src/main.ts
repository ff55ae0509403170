/**
 * `npm start`: one node with the shop on the embedded PostgreSQL (or DATABASE_URL), its
 * projections, and the API on loopback. Without RECOUNT_ADMIN_KEY it generates a development key
 * and prints it; the data stays in `.recount/pg` for the next start.
 */
import * as Database from "@recount/postgres/Database"
import * as PgStores from "@recount/postgres/PgStores"
import * as ApiConfig from "@recount/rpc/ApiConfig"
import * as ApiKeys from "@recount/rpc/ApiKeys"
import * as RecountServer from "@recount/rpc/RecountServer"
import * as RecountNode from "@recount/runtime/RecountNode"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { randomBytes } from "node:crypto"
import { app } from "./index.js"

const main = Effect.gen(function*() {
  const configured = yield* ApiKeys.bootstrapKeyConfig
  const key = Option.getOrElse(configured, () => Redacted.make(`dev-${randomBytes(24).toString("base64url")}`))
  const Node = RecountServer.layer.pipe(
    Layer.provide(ApiConfig.layerFromEnv),
    Layer.provideMerge(ApiKeys.layer({ bootstrapKey: key })),
    Layer.provideMerge(RecountNode.layerSingle(app())),
    Layer.provideMerge(PgStores.layer),
    Layer.provideMerge(Database.layer())
  )
  return yield* Effect.gen(function*() {
    const url = yield* RecountServer.url
    const db = yield* Database.DatabaseUrl
    const shown = Option.isSome(configured) ? "(RECOUNT_ADMIN_KEY)" : Redacted.value(key)
    console.log([
      "Recount is up: the shop example on one node.",
      `  API        ${url}  (OpenAPI: ${url}/openapi.json)`,
      `  key        ${shown}${Option.isSome(configured) ? "" : "   (a development key, new at every start; set RECOUNT_ADMIN_KEY to choose one)"}`,
      `  database   ${db.source === "embedded" ? `embedded, data in ${Option.getOrElse(db.dataDir, () => "?")}` : "DATABASE_URL"}`,
      "",
      "Try:",
      `  curl -X POST ${url}/v1/default/aggregates/order/o-1/commands -H "Authorization: Bearer ${shown}" \\`,
      `       -H "Idempotency-Key: place-o-1" -d '{"_tag":"PlaceOrder","customerId":"c-1","lines":[{"sku":"tea","quantity":2,"price":4.5}]}'`,
      `  curl ${url}/v1/default/aggregates/order/o-1/state -H "Authorization: Bearer ${shown}"`,
      `  curl ${url}/v1/projections -H "Authorization: Bearer ${shown}"`,
      "",
      "Ctrl-C stops it; the next start keeps the data."
    ].join("\n"))
    return yield* Effect.never
  }).pipe(Effect.provide(Node))
})

const fiber = Effect.runFork(main)
const stop = () => Effect.runFork(Fiber.interrupt(fiber))
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
    console.error(Cause.pretty(exit.cause))
    process.exitCode = 1
  }
})
