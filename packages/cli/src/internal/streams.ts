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

const list = Command.make("list", {
  ...Connection.options,
  category: Options.text("category").pipe(Options.withDescription("Only streams of this category"), Options.optional),
  prefix: Options.text("prefix").pipe(Options.withDescription("Only streams whose names start with this"), Options.optional),
  after: Options.text("after").pipe(Options.withDescription("Start after this stream name (the previous page's next)"), Options.optional),
  limit: Options.integer("limit").pipe(Options.withDescription("Streams per page (the node caps it)"), Options.optional),
  tenant: Options.text("tenant").pipe(Options.optional)
}, (o) =>
  Effect.gen(function*() {
    const page = yield* Connection.withRpc(o, (rpc) =>
      rpc.ListStreams({
        tenant: Option.getOrUndefined(o.tenant),
        category: Option.getOrUndefined(o.category),
        prefix: Option.getOrUndefined(o.prefix),
        after: Option.getOrUndefined(o.after),
        limit: Option.getOrUndefined(o.limit)
      }))
    yield* Output.print(o.json, page, (p) =>
      [
        Output.table(
          ["stream", "category", "version", "created at", "updated at"],
          p.streams.map((s) => [s.streamName, s.category, String(s.version), s.createdAt.toISOString(), s.updatedAt.toISOString()])
        ),
        ...(p.next === null ? [] : [`next page: --after ${p.next}`])
      ].join("\n"))
  })).pipe(Command.withDescription("List a tenant's streams in name order, one page at a time"))

/** `recount streams list|show`. */
export const command = Command.make("streams").pipe(
  Command.withDescription("Inspect streams"),
  Command.withSubcommands([list, show])
)
