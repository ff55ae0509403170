import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Connection from "./connection.js"
import * as Output from "./output.js"

const list = Command.make("list", {
  ...Connection.options,
  projection: Options.text("projection").pipe(Options.withDescription("Only this projection's"), Options.optional),
  status: Options.choice("status", ["parked", "retry", "applied", "skipped"]).pipe(Options.optional),
  limit: Options.integer("limit").pipe(Options.optional)
}, (o) =>
  Effect.gen(function*() {
    const all = yield* Connection.withRpc(o, (rpc) =>
      rpc.ListDeadLetters({ projection: Option.getOrUndefined(o.projection), status: Option.getOrUndefined(o.status), limit: Option.getOrUndefined(o.limit) }))
    yield* Output.print(o.json, all, (all) =>
      Output.table(
        ["projection", "event id", "stream", "type", "status", "attempts", "parked at", "error"],
        all.map((d) => [d.projection, d.eventId, `${d.streamName}@${d.streamVersion}`, d.eventType, d.status, String(d.attempts), d.parkedAt.toISOString(), Output.cell(d.error, 60)])
      ))
  })).pipe(Command.withDescription("Events the projections parked after their handlers kept failing"))

const target = {
  ...Connection.options,
  projection: Args.text({ name: "projection" }),
  eventId: Args.text({ name: "event-id" })
}

const retry = Command.make("retry", target, (o) =>
  Effect.zipRight(
    Connection.withRpc(o, (rpc) => rpc.RetryDeadLetter({ projection: o.projection, eventId: o.eventId })),
    Output.print(o.json, { projection: o.projection, eventId: o.eventId, status: "retry" }, () => `${o.projection} will apply ${o.eventId} again`)
  )).pipe(Command.withDescription("Apply a parked event again"))

const skip = Command.make("skip", target, (o) =>
  Effect.zipRight(
    Connection.withRpc(o, (rpc) => rpc.SkipDeadLetter({ projection: o.projection, eventId: o.eventId })),
    Output.print(o.json, { projection: o.projection, eventId: o.eventId, status: "skipped" }, () => `${o.projection} skips ${o.eventId} for good`)
  )).pipe(Command.withDescription("Give up on a parked event for good"))

/** `recount dead-letters list|retry|skip`. */
export const command = Command.make("dead-letters").pipe(
  Command.withDescription("Parked events of projections (bootstrap key)"),
  Command.withSubcommands([list, retry, skip])
)
