import * as Options from "@effect/cli/Options"
import * as RecountClient from "@recount/rpc/RecountClient"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { CannotReach, MissingApiKey } from "../CliError.js"

/** Where `npm start` serves the API. */
export const defaultUrl = "http://127.0.0.1:8080"

/** The options every command that talks to a node takes. */
export const options = {
  url: Options.text("url").pipe(Options.withDescription(`The node's API (default: RECOUNT_URL, else ${defaultUrl})`), Options.optional),
  key: Options.redacted("key").pipe(Options.withDescription("The API key (default: RECOUNT_KEY)"), Options.optional),
  json: Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))
}

/** The parsed common options. */
export interface Connection {
  readonly url: Option.Option<string>
  readonly key: Option.Option<Redacted.Redacted<string>>
  readonly json: boolean
}

/** Flags win over the environment; the URL falls back to the local default. */
export const resolve = (connection: Connection) =>
  Effect.gen(function*() {
    const url = Option.isSome(connection.url)
      ? connection.url.value
      : yield* Config.string("RECOUNT_URL").pipe(Config.withDefault(defaultUrl), Effect.orElseSucceed(() => defaultUrl))
    const key = Option.isSome(connection.key)
      ? connection.key
      : yield* Config.option(Config.redacted("RECOUNT_KEY")).pipe(Effect.orElseSucceed(() => Option.none()))
    return { url: url.replace(/\/+$/, ""), key: Option.filter(key, (k) => Redacted.value(k).length > 0) }
  })

type Rpc = RecountClient.RecountClientService["rpc"]

interface TransportFailure {
  readonly _tag: "RpcClientError"
  readonly message: string
  readonly cause?: unknown
}

const isTransportFailure = (e: unknown): e is TransportFailure =>
  typeof e === "object" && e !== null && "_tag" in e && e._tag === "RpcClientError"


/** The node did not answer: a `CannotReach` naming the URL. */
export const cannotReach = (url: string, e: unknown) => new CannotReach({ url, detail: RecountClient.rootCause(e) })

/**
 * Runs `f` with a client of the node over HTTP (a request per call, so a node that is down
 * fails at once instead of being retried); transport failures become `CannotReach`.
 */
export const withRpc = <A, E>(connection: Connection, f: (rpc: Rpc, url: string) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const { url, key } = yield* resolve(connection)
    if (Option.isNone(key)) return yield* new MissingApiKey()
    return yield* Effect.flatMap(RecountClient.RecountClient, (client) => f(client.rpc, url)).pipe(
      Effect.provide(RecountClient.layer({ url, apiKey: key.value, transport: "http" })),
      Effect.mapError((e) => isTransportFailure(e) ? cannotReach(url, e) : e as Exclude<E, TransportFailure>)
    )
  })
