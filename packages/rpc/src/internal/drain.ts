import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { AggregateUnavailable } from "@recount/core/DispatchError"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Server } from "node:http"
import { RecountApi } from "../RecountApi.js"
import * as Handlers from "./handlers.js"

/** `RECOUNT_DRAIN_TIMEOUT`: how long a stopping node waits for the requests it is running. */
export const timeoutConfig = Config.duration("RECOUNT_DRAIN_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))

/** The requests a server is running, and whether it has begun to stop. */
export interface Drain {
  readonly draining: () => boolean
  /** Counts `effect` as in flight while it runs. */
  readonly track: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Registers the server whose listener closes when the drain begins. */
  readonly server: (server: Server) => Server
  /** Stops accepting, then waits (up to `timeout`) until nothing is in flight; gives how many still were. */
  readonly drain: (timeout: Duration.Duration) => Effect.Effect<number>
}

/** A server that never drains: `routes` mounted on someone else's router. */
const never: Drain = { draining: () => false, track: (effect) => effect, server: (server) => server, drain: () => Effect.succeed(0) }

export class CurrentDrain extends Context.Reference<CurrentDrain>()("@recount/rpc/internal/CurrentDrain", { defaultValue: () => never }) {}

export const make = Effect.sync((): Drain => {
  let inFlight = 0
  let draining = false
  let server: Server | undefined
  const release = Effect.sync(() => {
    inFlight--
  })
  return {
    draining: () => draining,
    // Counted and uncounted in one uninterruptible step each side (every command passes here).
    track: (effect) =>
      Effect.uninterruptibleMask((restore) => {
        inFlight++
        return Effect.ensuring(restore(effect), release)
      }),
    server: (s) => (server = s),
    drain: (timeout) =>
      Effect.gen(function*() {
        draining = true
        // New connections are refused from here on; connections between requests end now.
        server?.close()
        server?.closeIdleConnections()
        yield* Effect.repeat(Effect.sleep("20 millis"), { until: () => inFlight === 0 }).pipe(Effect.timeoutOption(timeout))
        server?.closeIdleConnections()
        return inFlight
      })
  }
})

/**
 * A plain HTTP request that arrives while draining (on a connection opened before) is refused
 * with 503 and the connection closed, so the client retries elsewhere; the others are tracked.
 * WebSocket upgrades are not: a socket lives as long as its client, so its commands are tracked
 * one by one (`handlers`).
 */
export const guard = <E, R>(drain: Drain, app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    if (request.headers["upgrade"] !== undefined) return app
    if (drain.draining()) {
      return Effect.succeed(HttpServerResponse.unsafeJson(
        { _tag: "Unavailable", detail: "this node is shutting down; retry on another node" },
        { status: 503, headers: { connection: "close", "retry-after": "1" } }
      ))
    }
    return drain.track(app)
  })

/**
 * The RPC handlers, with each `Dispatch` (and each command of a `DispatchBatch`) tracked; while draining, a new one fails with
 * `AggregateUnavailable`, which clients retry with the same command id.
 *
 * The handlers are registered with an empty context. The RPC library keeps the context a group's
 * handlers were built in and merges it into every request's context three times (decoding the
 * payload, running the handler, encoding the reply), copying it each time; built in the node's
 * context, that was about 30 services per copy, all of which the request's own context (the HTTP
 * server's) already has. The handlers take their services when they are built and need nothing
 * from their context but `Principal`, which the `Authentication` middleware provides per call:
 * `toHandlersContext` below would ask for anything else in its type.
 */
export const handlers = Layer.scopedContext(Effect.gen(function*() {
  const ops = yield* Handlers.operations
  const drain = yield* CurrentDrain
  const dispatch: typeof ops.Dispatch = (payload, options) =>
    drain.draining()
      ? Effect.fail(new AggregateUnavailable({ aggregate: payload.aggregate, aggregateId: payload.id, detail: "this node is shutting down; retry with the same command id" }))
      : drain.track(ops.Dispatch(payload, options))
  const built = RecountApi.toHandlersContext({
    ...ops,
    Dispatch: dispatch,
    // Each command of a batch on its own, as if it had come alone.
    DispatchBatch: Handlers.batch(dispatch)
  })
  return yield* inEmptyContext(built)
}))

/** Runs an effect that needs nothing in an empty context (its type says it needs nothing). */
const inEmptyContext = <A, E>(effect: Effect.Effect<A, E, never>): Effect.Effect<A, E> =>
  Effect.mapInputContext(effect, (_: Context.Context<never>) => Context.empty())

/** Closes nothing itself: when its scope closes (first, being built last) it drains. */
export const stopping = (drain: Drain) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const timeout = yield* timeoutConfig
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(drain.drain(timeout), (left) =>
        left === 0
          ? Effect.logDebug("drained: no request in flight")
          : Effect.logWarning(`${left} requests still in flight after the drain timeout of ${Duration.format(timeout)}`)))
  }))
