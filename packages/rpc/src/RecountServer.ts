/**
 * Serves the public API on a node's HTTP port: the RPC protocol over WebSocket and HTTP, each in
 * JSON and MessagePack, and the plain HTTP+JSON face with its OpenAPI document.
 *
 * | path | what |
 * |---|---|
 * | `/rpc` | RPC over WebSocket, JSON |
 * | `/rpc/msgpack` | RPC over WebSocket, MessagePack |
 * | `/rpc/http` | RPC over HTTP, newline-delimited JSON |
 * | `/rpc/http/msgpack` | RPC over HTTP, MessagePack |
 * | `/v1/...` | the HTTP+JSON face (see `RecountHttpApi`) |
 * | `/openapi.json` | its OpenAPI document |
 * | `/metrics` | the node's metrics, Prometheus text format (see `RecountMetrics`) |
 *
 * @since 0.1.0
 */
import { Headers, HttpLayerRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import { NodeHttpServer } from "@effect/platform-node"
import { RpcSerialization, RpcServer } from "@effect/rpc"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { createServer } from "node:http"
import type * as Net from "node:net"
import { ApiConfig } from "./ApiConfig.js"
import { ApiKeys } from "./ApiKeys.js"
import { coalesceWrites } from "./internal/coalesceWrites.js"
import * as Drain from "./internal/drain.js"
import * as Handlers from "./internal/handlers.js"
import * as HttpFace from "./internal/httpFace.js"
import * as MetricsRoute from "./internal/metricsRoute.js"
import { Authentication, RecountApi } from "./RecountApi.js"

const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(ApiKeys, (keys) => Authentication.of(Handlers.authentication(keys)))
)

/**
 * Refuses WebSocket messages over the limit: the socket protocol closes the connection with 1009
 * (message too big). The WebSocket library underneath has read the message by then (it allows
 * up to 100 MiB and the platform does not expose its setting), so this bounds what is processed,
 * not what is buffered.
 */
const limited = (serialization: RpcSerialization.RpcSerialization["Type"]) =>
  Layer.effect(RpcSerialization.RpcSerialization, Effect.map(ApiConfig, (config) =>
    RpcSerialization.RpcSerialization.of({
      contentType: serialization.contentType,
      includesFraming: serialization.includesFraming,
      unsafeMake: () => {
        const parser = serialization.unsafeMake()
        return {
          encode: parser.encode,
          decode: (data) => {
            if (data.length > config.maxMessageBytes) {
              throw new RpcSerialization.RpcSerializationError({ reason: "BufferSizeExceeded", maxBufferSize: config.maxMessageBytes, bufferSize: data.length })
            }
            return parser.decode(data)
          }
        }
      }
    })))

// The RPC library's span per message is off: it cost about a tenth of the WebSocket face's
// throughput (0.67-0.69 of in-process with it, 0.70-0.76 without, same machine), and spans of
// Recount's own (per command) are what an operator reads.
const rpcRoute = (path: `/${string}`, protocol: "websocket" | "http", serialization: RpcSerialization.RpcSerialization["Type"]) =>
  RpcServer.layerHttpRouter({ group: RecountApi, path, protocol, spanPrefix: "recount.rpc", disableTracing: true }).pipe(Layer.provide(limited(serialization)))

/**
 * The API's routes, for mounting on an `HttpLayerRouter` of your own.
 *
 * @since 0.1.0
 */
export const routes = Layer.mergeAll(
  rpcRoute("/rpc", "websocket", RpcSerialization.json),
  rpcRoute("/rpc/msgpack", "websocket", RpcSerialization.msgPack),
  rpcRoute("/rpc/http", "http", RpcSerialization.ndjson),
  rpcRoute("/rpc/http/msgpack", "http", RpcSerialization.msgPack),
  HttpFace.routes,
  MetricsRoute.route
).pipe(Layer.provide([Drain.handlers, AuthenticationLive]))

/**
 * The HTTP face speaks JSON only: `curl -d` labels its body as a form, and a body that is not JSON
 * gets a typed answer (the platform's own is an empty 400). The request's body is read once: the
 * same request object, with its cached text, goes on to the face.
 */
const asJsonFace = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>, request: HttpServerRequest.HttpServerRequest) => {
  const asJson = request.modify({ headers: Headers.set(request.headers, "content-type", "application/json") })
  return Effect.flatMap(Effect.either(asJson.text), (text) => {
    // An empty body is no body (operations such as retry take none).
    if (text._tag === "Right" && text.right.trim().length > 0) {
      try {
        JSON.parse(text.right)
      } catch (error) {
        return Effect.succeed(HttpServerResponse.unsafeJson(
          { _tag: "InvalidArgument", argument: "request body", reason: `not JSON: ${error instanceof Error ? error.message : String(error)}` },
          { status: 400 }
        ))
      }
    }
    return Effect.provideService(app, HttpServerRequest.HttpServerRequest, asJson)
  })
}

/**
 * What a WebSocket RPC connection keeps of the server's context: its request, its scope and its
 * span, which is all the RPC library's socket route asks for. The rest (the node's services, about
 * 30) would be copied with no use on every message: the library builds each call's context from
 * the connection's (a merge when the call starts, one around decoding its payload and one around
 * encoding its reply, and a copy for `Principal`), and the handlers took the node's services
 * when they were built (`Drain.handlers`).
 */
const connectionServices = Context.pick(HttpServerRequest.HttpServerRequest, Scope.Scope, Tracer.ParentSpan)

const asRpcConnection = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  // The router erased what its routes need; the WebSocket routes need `connectionServices` only.
  Effect.mapInputContext(app, (context: Context.Context<R>) => connectionServices(context) as Context.Context<R>)

const rpcSocketPaths = new Set(["/rpc", "/rpc/msgpack"])

/**
 * An HTTP server whose upgraded (WebSocket) connections send the replies of one event-loop turn
 * in one write: one `writev` per reply was the WebSocket face's largest cost (see
 * internal/coalesceWrites.ts).
 */
const webSocketServer = () => {
  const server = createServer()
  server.on("upgrade", (_request: unknown, socket: Net.Socket) => coalesceWrites(socket))
  return server
}

/**
 * The API on its own HTTP server at the configured host and port (`ApiConfig`). Needs the node's
 * `CommandBus`, `Projections`, stores and `ApiKeys`. When it stops it first drains: it stops
 * listening, refuses new requests on open connections (503; `AggregateUnavailable` for a command
 * over WebSocket) and waits up to `RECOUNT_DRAIN_TIMEOUT` (10 s) for the requests in flight.
 *
 * @since 0.1.0
 */
export const layer = Layer.unwrapEffect(Effect.map(Effect.zip(ApiConfig, Drain.make), ([config, drain]) =>
  HttpLayerRouter.serve(routes, {
    disableLogger: true,
    disableListenLog: true,
    middleware: (app) =>
      Drain.guard(drain, Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        request.headers["upgrade"] !== undefined && rpcSocketPaths.has(request.url) ? asRpcConnection(app) :
        // Refused before reading: past the limit the platform drops the connection mid-upload,
        // and a client would see a reset instead of an answer.
        Number(request.headers["content-length"] ?? 0) > config.maxBodyBytes
          ? Effect.succeed(HttpServerResponse.unsafeJson(
            { _tag: "LimitExceeded", limit: "request body bytes", max: config.maxBodyBytes },
            { status: 413 }
          ))
          : HttpIncomingMessage.withMaxBodySize(
            request.url.startsWith("/v1/") && request.method === "POST" ? asJsonFace(app, request) : app,
            Option.some(config.maxBodyBytes)
          )))
  }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => drain.server(webSocketServer()), { host: config.host, port: config.port })),
    // Built last, so stopped first: the drain runs while the routes and the node are still up.
    (served) => Drain.stopping(drain).pipe(Layer.provideMerge(served)),
    Layer.provide(Layer.succeed(Drain.CurrentDrain, drain))
  )
))

/**
 * `RECOUNT_DRAIN_TIMEOUT` (default 10 seconds): how long a stopping server waits for the requests
 * in flight.
 *
 * @since 0.1.0
 */
export const drainTimeoutConfig = Drain.timeoutConfig

/**
 * The URL the server listens on, e.g. `http://127.0.0.1:8080`.
 *
 * @since 0.1.0
 */
export const url = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://${server.address.hostname}:${server.address.port}` : `http+unix://${server.address.path}`)
