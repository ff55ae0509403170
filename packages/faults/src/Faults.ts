/**
 * The faults (the nemesis): each kind is injected, held, healed, and recorded with its times.
 *
 * | kind | what |
 * |---|---|
 * | `kill` | SIGKILL a random runner, start it again a second later |
 * | `pause` | SIGSTOP a random runner past its shard locks and projection lease, then SIGCONT |
 * | `pg-restart` | stop PostgreSQL with an immediate shutdown (a crash), start it again |
 * | `terminate` | `pg_terminate_backend` every connection of a random runner (its advisory shard locks go with them) |
 * | `projection-kill` | SIGKILL the runner that holds the `order-summaries` lease right after its checkpoint moved (mid-batch), restart it |
 * | `pool-fill` | take every free connection slot of the server for a while |
 * | `long-tx` | append an `OrderPlaced` in a transaction held open for a while: it commits late, behind later events |
 *
 * @since 0.1.0
 */
import { Order, OrderPlaced } from "@recount/example-shop/domain/Order"
import * as Effect from "effect/Effect"
import type * as Random from "effect/Random"
import { randomUUID } from "node:crypto"
import Pg from "pg"
import type * as History from "./History.js"
import type { PgServer } from "./PgServer.js"
import type { Runner } from "./Runners.js"

/** @since 0.1.0 */
export const kinds = ["kill", "pause", "pg-restart", "terminate", "projection-kill", "pool-fill", "long-tx"] as const
/** @since 0.1.0 */
export type Kind = (typeof kinds)[number]

/** Kinds that need a server the suite owns (never a `DATABASE_URL` one). */
export const needOwnedServer: ReadonlyArray<Kind> = ["pg-restart", "pool-fill"]

/**
 * One injected fault. `healedAt` is when it ended: the restart, the SIGCONT, the server back up,
 * the late commit; for `terminate` the moment itself.
 *
 * @since 0.1.0
 */
export interface Injected {
  readonly kind: Kind
  readonly target: string
  readonly injectedAt: number
  readonly healedAt: number
}

/** How long the held faults hold. */
export interface Timings {
  /** Longer than the shard lock expiration (6 s) and the projection lease (10 s). */
  readonly pauseMillis: number
  readonly downMillis: number
  readonly holdMillis: number
}

/** @since 0.1.0 */
export const defaultTimings: Timings = { pauseMillis: 12_000, downMillis: 2_000, holdMillis: 10_000 }

/** What the nemesis works on. */
export interface Context {
  readonly runners: ReadonlyArray<Runner>
  readonly server: PgServer
  /** The suite's own pool (its application name is not a runner's). */
  readonly pool: Pg.Pool
  /** Orders the faults and their pauses. */
  readonly random: Random.Random
  /** Picks the runners they hit (apart from `random`: the library's generator gives correlated neighbours). */
  readonly targets: Random.Random
  readonly timings: Timings
  /** Records the late command of `long-tx` as an operation of the nemesis. */
  readonly record: (record: History.Record) => void
}

const pickRunner = (ctx: Context) =>
  Effect.gen(function*() {
    const up = ctx.runners.filter((r) => r.up())
    const pool = up.length > 0 ? up : ctx.runners
    return pool[yield* ctx.targets.nextIntBetween(0, pool.length)]!
  })

const query = (pool: Pg.Pool, text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.tryPromise({ try: () => pool.query(text, values as Array<unknown>), catch: (e) => e as Error })

const killAndRestart = (runner: Runner) =>
  Effect.gen(function*() {
    yield* runner.signal("SIGKILL")
    yield* Effect.sleep("1 second")
    yield* runner.restart
  })

let lateCommands = 0

const inject: { readonly [K in Kind]: (ctx: Context) => Effect.Effect<string, Error> } = {
  kill: (ctx) => Effect.flatMap(pickRunner(ctx), (runner) => Effect.as(killAndRestart(runner), runner.name)),

  pause: (ctx) =>
    Effect.gen(function*() {
      const runner = yield* pickRunner(ctx)
      yield* runner.signal("SIGSTOP")
      yield* Effect.sleep(ctx.timings.pauseMillis)
      yield* runner.signal("SIGCONT")
      return runner.name
    }),

  "pg-restart": (ctx) =>
    Effect.gen(function*() {
      yield* ctx.server.crash
      yield* Effect.sleep(ctx.timings.downMillis)
      yield* ctx.server.start
      return "postgres"
    }),

  terminate: (ctx) =>
    Effect.gen(function*() {
      const runner = yield* pickRunner(ctx)
      const result = yield* query(ctx.pool, "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1", [runner.name])
      return `${runner.name} (${result.rows[0]?.n ?? 0} connections)`
    }),

  "projection-kill": (ctx) =>
    Effect.gen(function*() {
      const checkpoint = () =>
        Effect.map(query(ctx.pool, "SELECT owner, global_position::text AS position FROM recount_projections WHERE name = 'order-summaries'"), (r) =>
          r.rows[0] as { owner: string | null; position: string } | undefined)
      const first = yield* checkpoint()
      // Wait for the checkpoint to move: the next batch is then being read or applied.
      let now = first
      const deadline = Date.now() + 5_000
      while (Date.now() < deadline && now?.position === first?.position) {
        yield* Effect.sleep("10 millis")
        now = yield* checkpoint()
      }
      const pid = Number(now?.owner?.split("/")[1])
      const runner = ctx.runners.find((r) => r.pid() === pid)
      if (runner === undefined) return yield* Effect.fail(new Error(`no runner holds the order-summaries lease (owner ${now?.owner ?? "none"})`))
      yield* killAndRestart(runner)
      return runner.name
    }),

  "pool-fill": (ctx) =>
    Effect.acquireUseRelease(
      Effect.promise(async () => {
        const held: Array<Pg.Client> = []
        for (let i = 0; i < ctx.server.maxConnections; i++) {
          const client = new Pg.Client({ connectionString: ctx.server.url, application_name: "faults-pool-fill" })
          client.on("error", () => {})
          try {
            await client.connect()
            held.push(client)
          } catch {
            break // The server is full.
          }
        }
        return held
      }),
      (held) => Effect.as(Effect.sleep(ctx.timings.holdMillis), `${held.length} connections`),
      (held) => Effect.promise(() => Promise.all(held.map((c) => c.end().catch(() => {}))))
    ),

  "long-tx": (ctx) =>
    Effect.gen(function*() {
      const orderId = `late-${Date.now().toString(36)}-${lateCommands++}`
      const commandId = `nemesis-${orderId}`
      const command = { customerId: "late", lines: [{ sku: "tea", quantity: 1, price: 1 }], payment: { method: "card" as const, card: "4242" } }
      const event = yield* Order.events.toEventData(new OrderPlaced({ ...command, total: 1 })).pipe(Effect.mapError((e) => new Error(e.message)))
      const eventId = randomUUID()
      const events = JSON.stringify([{ i: eventId, t: event.type, v: event.schemaVersion ?? 1, d: event.data, m: event.metadata ?? {} }])
      ctx.record({ _tag: "invoke", at: Date.now(), client: "nemesis", commandId, aggregate: "order", aggregateId: orderId, command: { _tag: "PlaceOrder", ...command } })
      const result = yield* Effect.acquireUseRelease(
        Effect.tryPromise({ try: () => ctx.pool.connect(), catch: (e) => e as Error }),
        (client) =>
          Effect.tryPromise({
            try: async () => {
              await client.query("BEGIN")
              const r = await client.query(
                "SELECT stream_version::int AS v, global_position::text AS p FROM recount_append('default', $1, 'order', -2, $2::jsonb, $3)",
                [`order-${orderId}`, events, commandId]
              )
              await new Promise((resolve) => setTimeout(resolve, ctx.timings.holdMillis))
              await client.query("COMMIT")
              return r.rows[0] as { v: number; p: string }
            },
            catch: (e) => e as Error
          }),
        (client) => Effect.sync(() => client.release())
      )
      ctx.record({
        _tag: "ok",
        at: Date.now(),
        commandId,
        attempt: 1,
        streamVersion: result.v,
        globalPosition: result.p,
        alreadyApplied: false,
        events: [{ eventId, type: event.type, streamVersion: result.v }]
      })
      return `order-${orderId}`
    })
}

/**
 * Injects one fault and returns what was done, when, and when it healed.
 *
 * @since 0.1.0
 */
export const injectOne = (kind: Kind, ctx: Context): Effect.Effect<Injected, Error> =>
  Effect.gen(function*() {
    const injectedAt = Date.now()
    const target = yield* inject[kind](ctx)
    return { kind, target, injectedAt, healedAt: kind === "terminate" ? injectedAt : Date.now() }
  })

/**
 * Injects the given kinds in rounds until `until` (each round every kind once, in a seeded order
 * unless `inOrder`),
 * with a pause of 3 to 6 s after each fault. A fault that could not be injected is logged and
 * skipped. Returns what was injected.
 *
 * @since 0.1.0
 */
export const run = (ctx: Context, options: {
  readonly kinds: ReadonlyArray<Kind>
  readonly until: number
  /** Keep the kinds' order in every round instead of shuffling it. */
  readonly inOrder?: boolean | undefined
  readonly log: (line: string) => void
}) =>
  Effect.gen(function*() {
    const injected: Array<Injected> = []
    // No faults: a control run.
    if (options.kinds.length === 0) yield* Effect.sleep(Math.max(0, options.until - Date.now()))
    while (options.kinds.length > 0 && Date.now() < options.until) {
      const round = options.inOrder ? options.kinds : yield* ctx.random.shuffle(options.kinds)
      for (const kind of round) {
        if (Date.now() >= options.until) break
        yield* Effect.sleep(yield* ctx.random.nextIntBetween(3_000, 6_000))
        const done = yield* Effect.either(injectOne(kind, ctx))
        if (done._tag === "Right") {
          injected.push(done.right)
          options.log(`fault ${kind} on ${done.right.target}: ${done.right.healedAt - done.right.injectedAt} ms`)
        } else {
          options.log(`fault ${kind} not injected: ${done.left.message}`)
        }
      }
    }
    return injected as ReadonlyArray<Injected>
  })
