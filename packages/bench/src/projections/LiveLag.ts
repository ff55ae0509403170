/**
 * Live lag: how long after an append its event is in the read model, with the projection running
 * as it would in production (a fiber of the process that appends, woken by the store's
 * notifications, default poll interval) under a steady open-loop load of single-event appends.
 *
 * Each event carries the wall-clock time just before its append was sent. The handler upserts the
 * balance and, in the same statement, queues a `NOTIFY` with that time; PostgreSQL delivers it only
 * when the batch's transaction commits, so its arrival on a listening connection is the moment the
 * row became visible (plus delivery, which any reader would also pay). Lag = arrival - sent.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as EventRegistry from "@recount/core/EventRegistry"
import { EventStore } from "@recount/core/EventStore"
import * as Projection from "@recount/runtime/Projection"
import * as Projections from "@recount/runtime/Projections"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import pg from "pg"
import * as Events from "../store/Events.js"
import * as ReadModel from "./ReadModel.js"
import type { RecountRuntime } from "./RecountProjector.js"

/** A deposit stamped with when its append was sent (ms since the epoch, fractional). */
export class TimedDeposit extends Schema.TaggedClass<TimedDeposit>()("TimedDeposit", {
  accountId: Schema.String,
  amount: Schema.Number,
  seq: Schema.Number,
  sent: Schema.Number
}) {}

const Timed = EventRegistry.make([TimedDeposit])

const channel = "recount_bench_lag"

const wallClock = () => performance.timeOrigin + performance.now()

const projection = (name: string, table: string) =>
  Projection.make({
    name,
    events: Timed,
    tables: [table],
    migrations: {
      "0001_create_table": (target) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(ReadModel.createTable(target.table(table))))
    },
    handle: (event, _envelope, target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql.unsafe(`WITH u AS (${ReadModel.upsertOne(target.table(table))}) SELECT pg_notify('${channel}', $3)`, [
          event.accountId,
          event.amount,
          `${event.seq} ${event.sent}`
        ]))
  })

/** @since 0.1.0 */
export interface Options {
  readonly perSecond: number
  readonly seconds: number
  /** Samples sent in the first seconds are dropped: pools fill, the JIT settles. */
  readonly warmupSeconds: number
  readonly accounts: number
}

/** @since 0.1.0 */
export interface Report {
  /** Lags of the samples after the warm-up, in ms. */
  readonly lags: ReadonlyArray<number>
  /** The worst lag of the events sent in each second after the warm-up, in ms: shows whether the tail is spread out or comes in stalls. */
  readonly worstPerSecond: ReadonlyArray<number>
  readonly sent: number
  readonly seen: number
  readonly failed: number
  /** How long the appends after the warm-up took (sent to acknowledged), in ms: part of the lag. */
  readonly appendLatencies: ReadonlyArray<number>
  /** Appends per second actually sent after the warm-up. */
  readonly achievedRate: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * @since 0.1.0
 */
export const measure = async (runtime: RecountRuntime, url: string, options: Options, name: string): Promise<Report> => {
  const arrivals = new Map<number, { readonly sent: number; readonly at: number }>()
  const listener = new pg.Client({ connectionString: url })
  await listener.connect()
  listener.on("notification", (message) => {
    const at = wallClock()
    const [seq, sent] = (message.payload ?? "").split(" ")
    arrivals.set(Number(seq), { sent: Number(sent), at })
  })
  await listener.query(`LISTEN ${channel}`)

  const scope = await runtime.runPromise(Scope.make())
  try {
    const context = await runtime.runPromise(Layer.buildWithScope(Projections.layerLocal([projection(name, `${name}_balances`)]), scope))
    const projections = Context.get(context, Projections.Projections)
    // Appends start once its runner holds the lease and its table exists, so start-up is not lag.
    // (Until its first own event its checkpoint stays at the start, and each wake-up re-reads the
    // whole log of other types: the warm-up seconds absorb that.)
    await runtime.runPromise(Effect.gen(function*() {
      for (;;) {
        const [s] = yield* projections.status([name])
        if (s?.state === "running" && s.lagEvents === 0) return
        yield* Effect.sleep("50 millis")
      }
    }))

    const store = await runtime.runPromise(EventStore)
    const accounts = Array.from({ length: options.accounts }, () => Events.freshStream("r"))
    const interval = 1000 / options.perSecond
    const pending = new Set<Promise<void>>()
    let failed = 0
    let seq = 0
    const t0 = performance.now()
    const end = t0 + options.seconds * 1000
    const warm = t0 + options.warmupSeconds * 1000
    let sentAfterWarmup = 0
    const appendLatencies: Array<number> = []
    // Open loop: an append is sent when it is due, whether or not earlier ones have finished.
    while (performance.now() < end) {
      const due = Math.floor((performance.now() - t0) / interval) + 1
      while (seq < due) {
        const n = seq++
        const account = accounts[n % accounts.length]!
        const measured = performance.now() >= warm
        if (measured) sentAfterWarmup++
        const sent = wallClock()
        const append = runtime.runPromise(store.append(account.streamName, [{
          type: "TimedDeposit",
          data: { accountId: account.accountId, amount: 1 + n % 100, seq: n, sent }
        }])).then(() => {
          if (measured) appendLatencies.push(wallClock() - sent)
        }, () => {
          failed++
        })
        pending.add(append)
        void append.then(() => pending.delete(append))
      }
      await sleep(1)
    }
    await Promise.all(pending)
    const waitUntil = performance.now() + 10_000
    while (arrivals.size < seq - failed && performance.now() < waitUntil) await sleep(20)

    const warmWall = performance.timeOrigin + warm
    const lags: Array<number> = []
    const worstPerSecond = new Array<number>(Math.ceil(options.seconds - options.warmupSeconds)).fill(0)
    for (const { sent, at } of arrivals.values()) {
      if (sent < warmWall) continue
      lags.push(at - sent)
      const second = Math.min(worstPerSecond.length - 1, Math.floor((sent - warmWall) / 1000))
      worstPerSecond[second] = Math.max(worstPerSecond[second]!, at - sent)
    }
    return {
      lags,
      worstPerSecond,
      appendLatencies,
      sent: seq,
      seen: arrivals.size,
      failed,
      achievedRate: sentAfterWarmup / (options.seconds - options.warmupSeconds)
    }
  } finally {
    await runtime.runPromise(Scope.close(scope, Exit.void))
    await listener.end()
  }
}
