import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type { WireEvent } from "@recount/rpc/RecountApi"
import * as RecountClient from "@recount/rpc/RecountClient"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { MissingApiKey } from "../CliError.js"
import * as Connection from "./connection.js"
import * as Output from "./output.js"

const describe = (e: WireEvent) =>
  `${e.recordedAt.toISOString()}  #${e.globalPosition}  ${e.streamName}@${e.streamVersion}  ${e.type}  ${Output.toJson(e.data)}`

/**
 * The subscription keeps retrying a connection that is refused, so a node that is not there
 * would make `tail` wait silently forever: ask once over plain HTTP first.
 */
const ensureReachable = (url: string) =>
  Effect.tryPromise({
    try: (signal) => fetch(`${url}/openapi.json`, { signal }),
    catch: (e) => Connection.cannotReach(url, e)
  }).pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => Connection.cannotReach(url, "no answer within 10 seconds") }),
    Effect.asVoid
  )

const tail = Command.make("tail", {
  ...Connection.options,
  category: Options.text("category").pipe(Options.withDescription("Only streams of this category (repeatable)"), Options.repeated),
  eventType: Options.text("type").pipe(Options.withDescription("Only events of this type (repeatable)"), Options.repeated),
  fromStart: Options.boolean("from-start").pipe(Options.withDescription("Print the whole log first, then follow it")),
  tenant: Options.text("tenant").pipe(Options.optional)
}, (o) =>
  Effect.gen(function*() {
    const { url, key } = yield* Connection.resolve(o)
    if (Option.isNone(key)) return yield* new MissingApiKey()
    yield* ensureReachable(url)
    // The API has no "from the head" position: without --from-start, the log before now is read
    // and left unprinted (by the database's recording time).
    const since = o.fromStart ? 0 : Date.now()
    yield* Effect.flatMap(RecountClient.RecountClient, (client) =>
      client.subscribe({
        tenant: Option.getOrUndefined(o.tenant),
        categories: o.category.length > 0 ? o.category : undefined,
        eventTypes: o.eventType.length > 0 ? o.eventType : undefined
      }).pipe(
        Stream.filter((e) => e.recordedAt.getTime() >= since),
        Stream.runForEach((e) => Console.log(o.json ? Output.toJson(e) : describe(e)))
      )).pipe(Effect.provide(RecountClient.layer({ url, apiKey: key.value })))
  })).pipe(Command.withDescription("Follow the log, one line per event, until Ctrl-C"))

/** `recount events tail`. */
export const command = Command.make("events").pipe(
  Command.withDescription("Follow the global log"),
  Command.withSubcommands([tail])
)
