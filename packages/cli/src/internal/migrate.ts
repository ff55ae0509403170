import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Database from "@recount/postgres/Database"
import * as Migrations from "@recount/postgres/Migrations"
import * as Effect from "effect/Effect"
import * as Output from "./output.js"

/** `recount migrate`: the one command that talks to the database instead of a node. */
export const command = Command.make("migrate", { json: Options.boolean("json") }, (o) =>
  Effect.gen(function*() {
    const applied = yield* Migrations.run
    const result = applied.map(([id, name]) => ({ id, name }))
    yield* Output.print(o.json, result, (all) =>
      all.length === 0 ? "the schema is up to date" : Output.table(["id", "migration"], all.map((m) => [String(m.id), m.name])))
  }).pipe(Effect.provide(Database.layer({ maxConnections: 2, applicationName: "recount-cli" }))))
  .pipe(Command.withDescription("Run Recount's schema migrations against DATABASE_URL (or the embedded server's data folder)"))
