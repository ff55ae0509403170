/**
 * A typed client of a Recount node's API: dispatch with the aggregate's own types, get the same
 * typed errors the server produced (domain errors decoded with the aggregate's schema), read
 * state and streams, and follow the log across disconnects without gaps or duplicates.
 *
 * ```ts
 * const Live = RecountClient.layer({ url: "http://127.0.0.1:8080", apiKey: process.env.RECOUNT_KEY! })
 * const client = yield* RecountClient.RecountClient
 * yield* client.dispatch(Account, "42", new Deposit({ amount: 10 }), { commandId: "c-1" })
 * ```
 *
 * Commands dispatched while others from the same client are on their way (and that carry no trace
 * or correlation id of their own) leave together, one `DispatchBatch` per event-loop turn; each is
 * still checked, run and answered on its own. A lone caller's command goes at once, alone.
 *
 * @since 0.1.0
 */
import { FetchHttpClient, Headers, Socket } from "@effect/platform"
import { NodeSocket } from "@effect/platform-node"
import { RpcClient, RpcMiddleware, RpcSerialization } from "@effect/rpc"
import type { RpcClientError } from "@effect/rpc/RpcClientError"
import type * as Aggregate from "@recount/core/Aggregate"
import type * as Checkpoint from "@recount/core/Checkpoint"
import * as Tracing from "@recount/core/Tracing"
import type { StateView } from "@recount/core/CommandResult"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type * as Net from "node:net"
import { ClientApi } from "./internal/clientApi.js"
import { coalesceWrites } from "./internal/coalesceWrites.js"
import * as DispatchBatcher from "./internal/dispatchBatcher.js"
import { Authentication, type DispatchPayload, type DispatchResult, maxBatchCommands, RecountApi, type WireEvent } from "./RecountApi.js"

type Api = RpcClient.FromGroup<typeof RecountApi, RpcClientError>
type Call<K extends keyof Api> = Api[K] extends (...args: infer _A) => infer R ? R : never
type ErrorOfCall<K extends keyof Api> = Call<K> extends Effect.Effect<infer _A, infer E, infer _R> ? E
  : Call<K> extends Stream.Stream<infer _A, infer E, infer _R> ? E
  : never

/** @since 0.1.0 */
export interface DispatchOptions {
  readonly commandId?: string | undefined
  /** Recorded with the events as their correlation id (the node's default: the command id). */
  readonly correlationId?: string | undefined
  readonly tenant?: string | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly consistency?:
    | "eventual"
    | "strong"
    | { readonly projections?: ReadonlyArray<string> | undefined; readonly timeout?: Duration.DurationInput | undefined }
    | undefined
}

/** The errors of a dispatch besides the aggregate's own domain errors. */
export type DispatchError = Exclude<ErrorOfCall<"Dispatch">, { readonly _tag: "DomainError" }>

/** @since 0.1.0 */
export interface RecountClientService {
  readonly dispatch: <A extends Aggregate.Any>(
    aggregate: A,
    id: string,
    command: Aggregate.CommandOf<A>,
    options?: DispatchOptions
  ) => Effect.Effect<DispatchResult, Aggregate.ErrorOf<A> | DispatchError>
  /** The live state, or (with `version` or `time`) the state folded from the store as of then. */
  readonly getState: <A extends Aggregate.Any>(
    aggregate: A,
    id: string,
    options?: { readonly tenant?: string | undefined; readonly version?: number | undefined; readonly time?: Date | undefined }
  ) => Effect.Effect<StateView, ErrorOfCall<"GetState">>
  readonly readStream: (
    stream: string,
    options?: {
      readonly tenant?: string | undefined
      readonly fromVersion?: number | undefined
      readonly direction?: "forward" | "backward" | undefined
      readonly limit?: number | undefined
    }
  ) => Effect.Effect<{ readonly events: ReadonlyArray<WireEvent>; readonly next: number | null }, ErrorOfCall<"ReadStream">>
  /**
   * Follows the log from a checkpoint. After a disconnect it resubscribes from the last event it
   * delivered, so the stream has no gap and no duplicate; other errors end it.
   */
  readonly subscribe: (options?: {
    readonly tenant?: string | undefined
    readonly categories?: ReadonlyArray<string> | undefined
    readonly eventTypes?: ReadonlyArray<string> | undefined
    readonly after?: Checkpoint.Checkpoint | undefined
  }) => Stream.Stream<WireEvent, Exclude<ErrorOfCall<"Subscribe">, RpcClientError>>
  /** The raw RPC client, for everything else (projections, keys). */
  readonly rpc: Api
}

/** @since 0.1.0 */
export class RecountClient extends Context.Tag("@recount/rpc/RecountClient")<RecountClient, RecountClientService>() {}

/** @since 0.1.0 */
export interface Options {
  /** The node's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string
  readonly apiKey: string | Redacted.Redacted<string>
  /** `websocket` (the default) keeps one connection; `http` sends a request per call. */
  readonly transport?: "websocket" | "http" | undefined
  readonly serialization?: "json" | "msgpack" | undefined
  /**
   * `true` (the default): commands dispatched while others from this client are on their way
   * leave together, one `DispatchBatch` per event-loop turn, which costs both ends far less CPU
   * per command; a batch's outcomes come back together, when its slowest command is done (each
   * bounded by its own timeout). Commands with a consistency wait or a timeout of their own are
   * always sent alone. `false`: every command is a `Dispatch` of its own, answered on its own.
   */
  readonly batch?: boolean | undefined
}

const optionsFor = (headers: Record<string, string> | undefined) => headers === undefined ? undefined : { headers }

const make = (settings: { readonly batch: boolean }) => Effect.gen(function*() {
  // No span per message on the client either: see RecountServer.
  const rpc = yield* RpcClient.make(ClientApi, { disableTracing: true })
  const tracing = yield* Tracing.Tracing
  // Commands without headers of their own (no trace, no correlation id) may share a call.
  const batched = DispatchBatcher.make({
    one: (payload: DispatchPayload) => rpc.Dispatch(payload),
    many: (commands) => rpc.DispatchBatch({ commands }),
    max: maxBatchCommands,
    runtime: yield* Effect.runtime<never>()
  })

  // The caller's trace goes along as a `traceparent` header: the node continues it.
  const headersFor = (span: Option.Option<Tracer.AnySpan>, correlationId: string | undefined): Record<string, string> | undefined => {
    if (span._tag === "None" && correlationId === undefined) return undefined
    const headers: Record<string, string> = {}
    if (span._tag === "Some") headers.traceparent = Tracing.traceparent(span.value)
    if (correlationId !== undefined) headers["recount-correlation-id"] = correlationId // read by the node's Dispatch handler
    return headers
  }

  const send = <A extends Aggregate.Any>(
    aggregate: A,
    id: string,
    command: Aggregate.CommandOf<A>,
    encoded: unknown,
    options: DispatchOptions | undefined,
    span: Option.Option<Tracer.AnySpan>
  ) => {
    const consistency = options?.consistency === undefined || typeof options.consistency === "string"
      ? options?.consistency
      : {
        projections: options.consistency.projections,
        timeoutMillis: options.consistency.timeout === undefined ? undefined : Duration.toMillis(Duration.decode(options.consistency.timeout))
      }
    const commandId = options?.commandId ?? globalThis.crypto.randomUUID()
    const payload = {
      aggregate: aggregate.name,
      id,
      command: encoded,
      commandId,
      tenant: options?.tenant,
      consistency,
      timeoutMillis: options?.timeout === undefined ? undefined : Duration.toMillis(Duration.decode(options.timeout))
    }
    const sent = tracing.enabled
      ? Effect.withSpan(
        // Under its own span, whose context is the one the node continues.
        Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (inner) => rpc.Dispatch(payload, optionsFor(headersFor(inner, options?.correlationId)))),
        "recount.client.dispatch",
        { kind: "client", attributes: Tracing.commandAttributes({ aggregate: aggregate.name, aggregateId: id, command, commandId }) }
      )
      : Effect.suspend(() => {
        const headers = headersFor(span, options?.correlationId)
        if (headers !== undefined) return rpc.Dispatch(payload, { headers })
        // A command that may wait long (for projections, or up to a timeout of its own) would
        // hold back its batch's other outcomes: it goes alone.
        const quick = options?.timeout === undefined && (options?.consistency === undefined || options.consistency === "eventual")
        return settings.batch && quick ? batched(payload) : rpc.Dispatch(payload)
      })
    return Effect.catchTag(sent, "DomainError", (e) =>
      Effect.flatMap(
        Schema.decodeUnknown(aggregate.errors)(e.error).pipe(Effect.orElseSucceed(() => e)),
        (error) => Effect.fail(error as Aggregate.ErrorOf<typeof aggregate>)
      ))
  }

  // One step per call before the library's: the encoding is synchronous when the schema allows
  // (an effectful encoder only for asynchronous transformations) and the caller's span is read
  // from the fiber's context directly.
  const dispatch: RecountClientService["dispatch"] = (aggregate, id, command, options) =>
    Effect.withFiberRuntime((fiber) => {
      const span = Context.getOption(fiber.currentContext, Tracer.ParentSpan)
      const sync = Schema.encodeUnknownEither(aggregate.commands)(command)
      return sync._tag === "Right"
        ? send(aggregate, id, command, sync.right, options, span)
        : Effect.flatMap(Schema.encodeUnknown(aggregate.commands)(command).pipe(Effect.orDie), (encoded) => send(aggregate, id, command, encoded, options, span))
    })

  const subscribe: RecountClientService["subscribe"] = (options) =>
    Stream.suspend(() => {
      let after = options?.after
      const once = Stream.suspend(() =>
        rpc.Subscribe({ tenant: options?.tenant, categories: options?.categories, eventTypes: options?.eventTypes, after }).pipe(
          Stream.tap((e) => Effect.sync(() => after = { transactionId: e.transactionId, position: e.globalPosition }))
        )
      )
      return once.pipe(
        Stream.retry(Schedule.spaced("250 millis").pipe(Schedule.whileInput((e: { readonly _tag: string }) => e._tag === "RpcClientError"))),
        Stream.catchTag("RpcClientError", (e) => Stream.die(e))
      )
    })

  return RecountClient.of({
    dispatch,
    getState: (aggregate, id, options) =>
      options?.version === undefined && options?.time === undefined
        ? rpc.GetState({ aggregate: aggregate.name, id, tenant: options?.tenant })
        : rpc.StateAt({ aggregate: aggregate.name, id, tenant: options.tenant, version: options.version, time: options.time }),
    readStream: (stream, options) => rpc.ReadStream({ stream, ...options }),
    subscribe,
    rpc
  })
})

/**
 * The platform's WebSocket constructor, with the requests of one event-loop turn sent in one
 * write when the socket underneath is reachable (the `ws` library's, used on Node 20; Node's
 * built-in WebSocket does not expose it). See internal/coalesceWrites.ts.
 */
const coalescingWebSockets = Layer.effect(
  Socket.WebSocketConstructor,
  Effect.map(Socket.WebSocketConstructor, (make) => (url: string, protocols?: string | Array<string>) => {
    const ws = make(url, protocols)
    const emitter = ws as unknown as { readonly on?: (event: string, f: (response: { readonly socket: Net.Socket }) => void) => void }
    if (typeof emitter.on === "function") emitter.on("upgrade", (response) => coalesceWrites(response.socket))
    return ws
  })
).pipe(Layer.provide(NodeSocket.layerWebSocketConstructor))

const protocol = (options: Options) => {
  const base = options.url.replace(/\/+$/, "")
  const msgpack = options.serialization === "msgpack"
  if (options.transport === "http") {
    return RpcClient.layerProtocolHttp({ url: `${base}/rpc/http${msgpack ? "/msgpack" : ""}` }).pipe(
      Layer.provide([FetchHttpClient.layer, msgpack ? RpcSerialization.layerMsgPack : RpcSerialization.layerNdjson])
    )
  }
  return RpcClient.layerProtocolSocket({ retryTransientErrors: true }).pipe(
    Layer.provide([
      Layer.scoped(Socket.Socket, Socket.makeWebSocket(`${base.replace(/^http/, "ws")}/rpc${msgpack ? "/msgpack" : ""}`)).pipe(
        Layer.provide(coalescingWebSockets)
      ),
      msgpack ? RpcSerialization.layerMsgPack : RpcSerialization.layerJson
    ])
  )
}

/**
 * A client of the node at `url`, authenticated with `apiKey` on every call.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<RecountClient> => {
  const key = typeof options.apiKey === "string" ? options.apiKey : Redacted.value(options.apiKey)
  const bearer = `Bearer ${key}`
  const auth = RpcMiddleware.layerClient(Authentication, ({ request }) =>
    Effect.succeed({ ...request, headers: Headers.set(request.headers, "authorization", bearer) }))
  return Layer.scoped(RecountClient, make({ batch: options.batch ?? true })).pipe(Layer.provide([protocol(options), auth]))
}

/**
 * Why a call could not reach the node, in a word an operator knows: the innermost cause's code
 * (`ECONNREFUSED`) or message, rather than the client's "failed to send".
 *
 * @since 0.1.0
 */
export const rootCause = (e: unknown): string => {
  let current: unknown = e
  let text = e instanceof Error ? e.message : String(e)
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null && "cause" in current; depth++) {
    current = (current as { readonly cause: unknown }).cause
    if (current instanceof Error && current.message) text = current.message
    if (typeof current === "object" && current !== null && "code" in current && typeof current.code === "string") return current.code
  }
  return text
}
