/**
 * The `store` suite: Recount's PostgreSQL event store against a baseline that sends the same SQL
 * with the plain `pg` driver, both on one server in the same run.
 *
 * @since 0.1.0
 */
import * as EventStoreConfig from "@recount/core/EventStoreConfig"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import pg from "pg"
import * as BenchDatabase from "./BenchDatabase.js"
import * as Measure from "./Measure.js"
import * as BaselineSides from "./store/BaselineSides.js"
import * as Events from "./store/Events.js"
import * as RecountSides from "./store/RecountSides.js"
import * as Seed from "./store/Seed.js"
import * as SqlParity from "./store/SqlParity.js"
import type { StoreSides } from "./store/Sides.js"
import { result, type Suite, type SuiteContext } from "./Suite.js"

const poolSize = 40
const streamLength = 10_000
const logEvents = 50_000
/** What Recount's subscriptions read at a time by default. */
const readBatch = EventStoreConfig.defaults.subscriptionBatchSize

interface Workload {
  readonly name: string
  readonly side: (sides: StoreSides) => Measure.Side
}

const workloads = (readStreamName: string): ReadonlyArray<Workload> => [
  { name: "append 1 event, 1 writer", side: (s) => s.appends(1, 1) },
  { name: "append 1 event, 8 writers", side: (s) => s.appends(8, 1) },
  { name: "append 1 event, 32 writers", side: (s) => s.appends(32, 1) },
  { name: "append 100 events, 1 writer", side: (s) => s.appends(1, 100) },
  { name: "append 100 events, 8 writers", side: (s) => s.appends(8, 100) },
  { name: `read stream of ${streamLength / 1000}k events`, side: (s) => s.readStream(readStreamName, streamLength) },
  { name: `read global log, ${logEvents / 1000}k events`, side: (s) => s.readAll(logEvents, readBatch) }
]

const toError = (e: unknown): Error => e instanceof Error ? e : new Error(String(e))
const promise = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: toError })

const formatRounds = (rates: ReadonlyArray<number>) => rates.map((r) => Math.round(r)).join(" ")

const run = (context: SuiteContext) =>
  Effect.gen(function*() {
    const readStream = Events.freshStream("r")
    const selected = workloads(readStream.streamName).filter((w) => context.selected(w.name))
    if (selected.length === 0) {
      const names = workloads(readStream.streamName).map((w) => `  ${w.name}`).join("\n")
      return yield* Effect.fail(new Error(`no store workload matches --only; the workloads are:\n${names}`))
    }
    const url = yield* BenchDatabase.acquire(context.log)
    const runtime = yield* Effect.acquireRelease(
      Effect.sync(() => ManagedRuntime.make(RecountSides.layer(url, poolSize))),
      (rt) => Effect.promise(() => rt.dispose())
    )
    // Builds the pool and runs the migrations now, outside any measurement.
    yield* promise(() => runtime.runtime())
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => new pg.Pool({ connectionString: url, max: poolSize })),
      (p) => Effect.promise(() => p.end())
    )
    context.log(`seeding a ${streamLength}-event stream and a log of ${logEvents} events…`)
    yield* promise(() => Seed.seed(url, readStream, streamLength, logEvents))
    const drift = yield* promise(() => SqlParity.check(runtime))
    if (drift.length > 0) {
      return yield* Effect.fail(
        new Error(`the baseline no longer sends Recount's SQL; update src/store/PlainPg.ts:\n${drift.join("\n")}`)
      )
    }
    const sides = { recount: RecountSides.make(runtime), baseline: BaselineSides.make(pool) }

    // The Recount path is far more code than the baseline's; compiling it inside the first
    // workload's rounds would charge Recount for start-up.
    context.log("warming up both append paths…")
    yield* promise(() => Measure.warmUp(sides.recount.appends(8, 1), sides.baseline.appends(8, 1), 1500))
    yield* promise(() => Measure.warmUp(sides.recount.appends(2, 100), sides.baseline.appends(2, 100), 1000))

    for (const workload of selected) {
      context.log(`${workload.name}…`)
      const outcome = yield* promise(() =>
        Measure.compare(workload.side(sides.recount), workload.side(sides.baseline), context.measure)
      )
      context.log(`  rounds/s recount: ${formatRounds(outcome.recountRounds)}; baseline: ${formatRounds(outcome.baselineRounds)}`)
      context.log(
        `  client CPU µs/event recount: ${outcome.recountCpuMicros.toFixed(1)}; baseline: ${outcome.baselineCpuMicros.toFixed(1)}`
      )
      context.emit(result("store", workload.name, "events/s", outcome))
    }
  })

/**
 * @since 0.1.0
 */
export const suite: Suite = {
  name: "store",
  description: "event store appends and reads: Recount vs the same SQL on plain pg",
  run
}
