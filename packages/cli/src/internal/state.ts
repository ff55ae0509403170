import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { UsageError } from "../CliError.js"
import * as Connection from "./connection.js"
import * as Output from "./output.js"

/** A state as rows: one per field of an object, else the whole value. */
const fields = (state: unknown): ReadonlyArray<ReadonlyArray<string>> =>
  typeof state === "object" && state !== null && !Array.isArray(state)
    ? Object.entries(state).map(([k, v]) => [k, Output.cell(v, 100)])
    : [["state", Output.cell(state, 100)]]

/** `recount state <aggregate> <id>`: the live state, or as of a version or time. */
export const command = Command.make("state", {
  ...Connection.options,
  aggregate: Args.text({ name: "aggregate" }).pipe(Args.withDescription("The aggregate's name, e.g. order")),
  id: Args.text({ name: "id" }),
  atVersion: Options.integer("at-version").pipe(Options.withDescription("Fold the stored events up to this version"), Options.optional),
  atTime: Options.date("at-time").pipe(Options.withDescription("Fold the events recorded up to this time (ISO 8601)"), Options.optional),
  tenant: Options.text("tenant").pipe(Options.optional)
}, (o) =>
  Effect.gen(function*() {
    if (Option.isSome(o.atVersion) && Option.isSome(o.atTime)) return yield* new UsageError({ detail: "give --at-version or --at-time, not both" })
    const tenant = Option.getOrUndefined(o.tenant)
    const view = yield* Connection.withRpc(o, (rpc) =>
      Option.isNone(o.atVersion) && Option.isNone(o.atTime)
        ? rpc.GetState({ aggregate: o.aggregate, id: o.id, tenant })
        : rpc.StateAt({ aggregate: o.aggregate, id: o.id, tenant, version: Option.getOrUndefined(o.atVersion), time: Option.getOrUndefined(o.atTime) }))
    yield* Output.print(o.json, view, (v) => Output.table(["field", "value"], [["(version)", String(v.version)], ...fields(v.state)]))
  })).pipe(Command.withDescription("Show an aggregate's state: live, or as of a version or a time"))
