import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Connection from "./connection.js"
import * as Output from "./output.js"

const show = Command.make("show", {
  ...Connection.options,
  stream: Args.text({ name: "stream" }).pipe(Args.withDescription("The stream, e.g. order-42")),
  from: Options.integer("from").pipe(Options.withDescription("The first version to show"), Options.optional),
  backward: Options.boolean("backward").pipe(Options.withDescription("Newest first")),
  limit: Options.integer("limit").pipe(Options.withDescription("Events per page (the node caps it)"), Options.optional),
  tenant: Options.text("tenant").pipe(Options.optional)
}, (o) =>
  Effect.gen(function*() {
    const page = yield* Connection.withRpc(o, (rpc) =>
      rpc.ReadStream({
        stream: o.stream,
        tenant: Option.getOrUndefined(o.tenant),
        fromVersion: Option.getOrUndefined(o.from),
        direction: o.backward ? "backward" : "forward",
        limit: Option.getOrUndefined(o.limit)
      }))
    yield* Output.print(o.json, page, (p) =>
      [
        Output.table(
          ["version", "type", "recorded at", "position", "event id", "data"],
          p.events.map((e) => [String(e.streamVersion), e.type, e.recordedAt.toISOString(), String(e.globalPosition), e.eventId, Output.cell(e.data)])
        ),
        ...(p.next === null ? [] : [`next page: --from ${p.next}`])
      ].join("\n"))
  })).pipe(Command.withDescription("Show one page of a stream's events"))

/** `recount streams show <stream>`. */
export const command = Command.make("streams").pipe(
  Command.withDescription("Inspect streams"),
  Command.withSubcommands([show])
)
