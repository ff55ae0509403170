/**
 * `npm start` until the example app exists: starts the database (embedded unless DATABASE_URL is
 * set), runs the migrations, prints where it is and what it holds, and stays up until Ctrl-C.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Database from "../Database.js"
import * as Migrations from "../Migrations.js"
import * as StoreStatus from "../StoreStatus.js"

const main = Effect.gen(function*() {
  const db = yield* Database.DatabaseUrl
  const status = yield* StoreStatus.get
  const lines = [
    "Recount event store is up.",
    `  database   ${Redacted.value(db.url)}`,
    `  source     ${db.source === "embedded" ? `embedded PostgreSQL ${status.serverVersion}, data in ${Option.getOrElse(db.dataDir, () => "?")}` : `DATABASE_URL (PostgreSQL ${status.serverVersion})`}`,
    `  schema     ${status.migrations.join(", ")}`,
    `  streams    ${status.streams}`,
    `  events     ${status.events} (last global position ${status.lastPosition})`,
    "",
    "Connect with: psql '<database url above>'. Press Ctrl-C to stop."
  ]
  yield* Effect.sync(() => console.log(lines.join("\n")))
  return yield* Effect.never
}).pipe(Effect.provide(Migrations.layer.pipe(Layer.provideMerge(Database.layer()))))

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
