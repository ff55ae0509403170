/**
 * The `commands` suite: commands through a Recount node (`CommandBus.dispatch` to warm
 * `BankAccount` instances) against two baselines on the same PostgreSQL in the same run:
 *
 * - the plain-`pg` floor: one `recount_append` per command (the statement Recount sends, with a
 *   command id like Recount's) at the version the client tracks; no framework at all;
 * - Emmett: the same domain with `CommandHandler` on `@event-driven-io/emmett-postgresql`, which
 *   reads the stream back for every command.
 *
 * Also a single client's command latency, the time to wake a 10,000-event aggregate from the
 * store (with and without a snapshot) against a plain read-and-fold, and the memory each
 * resident idle aggregate takes.
 *
 * Rows in events or commands per second have ratio = recount / baseline; rows in µs have
 * ratio = baseline / recount. Either way, above 1 means Recount did better.
 *
 * @since 0.1.0
 */
import * as EventStoreConfig from "@recount/core/EventStoreConfig"
import * as Effect from "effect/Effect"
import pg from "pg"
import * as BenchDatabase from "./BenchDatabase.js"
import * as EmmettCommands from "./commands/EmmettCommands.js"
import * as Memory from "./commands/Memory.js"
import * as Node from "./commands/Node.js"
import * as PlainCommands from "./commands/PlainCommands.js"
import * as RecountCommands from "./commands/RecountCommands.js"
import * as Measure from "./Measure.js"
import * as Events from "./store/Events.js"
import * as Seed from "./store/Seed.js"
import { recountOnly, result, type Result, type Suite, type SuiteContext } from "./Suite.js"

const bench = "commands"
const poolSize = 40
const aggregates = 1000
const clientCounts = [1, 8, 32] as const
const wakeLength = 10_000
const snapshotAt = 9_900
const memoryAggregates = 100_000
/**
 * Waking the memory workload's aggregates may take this long before it settles for fewer. A wake
 * cost about 3 ms of Node CPU on a 2-core box (the cluster's entity, the load, the command), so
 * 100k took 7.5 minutes there; 120 s used to stop near 30k and extrapolate.
 */
const memoryBudgetSeconds = 600
/** Rows in the log before anything is measured (see `store/Seed.ts` on why a full table). */
const fillerEvents = 40_000
const readPageSize = EventStoreConfig.defaults.readPageSize
const timeUnit = "µs (ratio = baseline / recount)"

const clientsLabel = (n: number) => `${n} client${n === 1 ? "" : "s"}`

const workloadNames = {
  floor: (n: number) => `commands, ${clientsLabel(n)} vs plain pg floor`,
  emmett: (n: number) => `commands, ${clientsLabel(n)} vs Emmett`,
  latency: "latency, 1 client vs plain pg floor",
  wakeFull: `wake ${wakeLength / 1000}k events, no snapshot vs plain read-and-fold`,
  wakeSnapshot: `wake ${wakeLength / 1000}k events, snapshot at ${snapshotAt} vs plain snapshot-and-fold`,
  memory: "memory per resident idle aggregate"
}

const allWorkloads = [
  ...clientCounts.map(workloadNames.floor),
  ...clientCounts.map(workloadNames.emmett),
  workloadNames.latency,
  workloadNames.wakeFull,
  workloadNames.wakeSnapshot,
  workloadNames.memory
]

const toError = (e: unknown): Error => e instanceof Error ? e : new Error(String(e))
const promise = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: toError })

const formatRounds = (rates: ReadonlyArray<number>) => rates.map((r) => Math.round(r)).join(" ")

/** A time row: smaller is better, so the ratio is baseline / recount. */
const timeResult = (workload: string, recount: number, baseline: number): Result => ({
  bench,
  workload,
  unit: timeUnit,
  recount,
  baseline,
  ratio: recount > 0 ? baseline / recount : Number.NaN
})


const ids = (prefix: string) => {
  const run = Math.random().toString(36).slice(2, 8)
  return Array.from({ length: aggregates }, (_, i) => `${run}${prefix}${i}`)
}

const run = (context: SuiteContext) =>
  Effect.gen(function*() {
    const selected = allWorkloads.filter(context.selected)
    if (selected.length === 0) {
      return yield* Effect.fail(new Error(`no commands workload matches --only; the workloads are:\n${allWorkloads.map((w) => `  ${w}`).join("\n")}`))
    }
    const wants = (name: string) => selected.includes(name)
    const url = yield* BenchDatabase.acquire(context.log)

    context.log("starting a Recount node…")
    const runtime = yield* Effect.acquireRelease(
      Effect.sync(() => Node.make({ url, poolSize })),
      (rt) => Effect.promise(() => rt.dispose())
    )
    // Builds the pool, runs the migrations and starts the runner now, outside any measurement.
    yield* promise(() => runtime.runtime())

    context.log(`seeding ${fillerEvents} events so every connection plans against a full table…`)
    yield* promise(() => Seed.seed(url, Events.freshStream("b"), 10_000, fillerEvents))

    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const p = new pg.Pool({ connectionString: url, max: poolSize })
        p.on("error", () => {})
        return p
      }),
      (p) => Effect.promise(() => p.end())
    )
    const needsEmmett = clientCounts.some((n) => wants(workloadNames.emmett(n)))
    const emmett = needsEmmett
      ? yield* Effect.acquireRelease(
        promise(() => EmmettCommands.make(url, poolSize)),
        (e) => Effect.promise(() => e.close().catch(() => undefined))
      )
      : undefined

    const recountIds = ids("r")
    const floorIds = ids("p")
    const emmettIds = ids("e")
    const needsWarm = selected.some((w) => w.startsWith("commands") || w === workloadNames.latency)
    let floorAccounts: PlainCommands.Accounts | undefined
    if (needsWarm) {
      context.log(`opening ${aggregates} accounts on each side and sending each one deposit…`)
      yield* promise(() => RecountCommands.warm(runtime, recountIds, 32))
      floorAccounts = yield* promise(() => PlainCommands.warm(pool, floorIds, 32))
      if (emmett) yield* promise(() => EmmettCommands.warm(emmett, emmettIds, 32))
    }
    const wakeId = `${Math.random().toString(36).slice(2, 8)}wake`
    if (wants(workloadNames.wakeFull) || wants(workloadNames.wakeSnapshot)) {
      context.log(`writing a ${wakeLength}-event account with a snapshot at ${snapshotAt}…`)
      yield* promise(() => RecountCommands.seedLongAccount(runtime, wakeId, wakeLength, snapshotAt))
    }
    yield* promise(() => pool.query("VACUUM ANALYZE"))
    if (!EmmettCommands.parsersUntouched()) {
      return yield* Effect.fail(new Error("Emmett's pg type parsers leaked into the process-wide ones"))
    }

    const compare = (name: string, recount: Measure.Side, baseline: Measure.Side, unit: string) =>
      Effect.gen(function*() {
        context.log(`${name}…`)
        const outcome = yield* promise(() => Measure.compare(recount, baseline, context.measure))
        context.log(`  rounds/s recount: ${formatRounds(outcome.recountRounds)}; baseline: ${formatRounds(outcome.baselineRounds)}`)
        context.log(`  client CPU µs/unit recount: ${outcome.recountCpuMicros.toFixed(1)}; baseline: ${outcome.baselineCpuMicros.toFixed(1)}`)
        return { outcome, row: result(bench, name, unit, outcome) }
      })

    if (floorAccounts) {
      // Compiles both command paths before the first workload's rounds.
      context.log("warming up both command paths…")
      yield* promise(() =>
        Measure.warmUp(RecountCommands.commands(runtime, recountIds, 8), PlainCommands.commands(pool, floorAccounts!, 8), 1500)
      )
    }

    for (const clients of clientCounts) {
      const name = workloadNames.floor(clients)
      if (!wants(name) || !floorAccounts) continue
      const { row } = yield* compare(
        name,
        RecountCommands.commands(runtime, recountIds, clients),
        PlainCommands.commands(pool, floorAccounts, clients),
        "commands/s"
      )
      context.log(`  target recount >= 0.8 x floor: ${row.ratio >= 0.8 ? "met" : "missed"}`)
      context.emit(row)
    }

    for (const clients of clientCounts) {
      const name = workloadNames.emmett(clients)
      if (!wants(name) || !emmett) continue
      const { row } = yield* compare(
        name,
        RecountCommands.commands(runtime, recountIds, clients),
        EmmettCommands.commands(emmett, emmettIds, clients),
        "commands/s"
      )
      context.log(`  target recount >= 2 x Emmett: ${row.ratio >= 2 ? "met" : "missed"}`)
      context.emit(row)
    }

    if (wants(workloadNames.latency) && floorAccounts) {
      context.log(`${workloadNames.latency}…`)
      const r: Array<number> = []
      const b: Array<number> = []
      const recount = RecountCommands.latencies(runtime, recountIds, r)
      const baseline = PlainCommands.latencies(pool, floorAccounts, b)
      yield* promise(() => Measure.warmUp(recount, baseline, context.measure.warmupMillis))
      r.length = 0
      b.length = 0
      yield* promise(() => Measure.compare(recount, baseline, { ...context.measure, warmupMillis: 0 }))
      context.log(`  samples recount: ${r.length}; baseline: ${b.length}`)
      for (const [label, q] of [["p50", 0.5], ["p99", 0.99]] as const) {
        const row = timeResult(`command latency ${label}, 1 client vs plain pg floor`, Measure.percentile(r, q) * 1000, Measure.percentile(b, q) * 1000)
        context.log(`  ${label} recount ${(row.recount / 1000).toFixed(3)} ms; floor ${(row.baseline / 1000).toFixed(3)} ms`)
        context.emit(row)
      }
    }

    for (const [name, useSnapshot] of [[workloadNames.wakeFull, false], [workloadNames.wakeSnapshot, true]] as const) {
      if (!wants(name)) continue
      const { outcome } = yield* compare(
        name,
        RecountCommands.wakes(runtime, wakeId, wakeLength, useSnapshot),
        PlainCommands.wakes(pool, wakeId, wakeLength, useSnapshot, readPageSize),
        "wakes/s"
      )
      const row = timeResult(name, 1e6 / outcome.recount, 1e6 / outcome.baseline)
      context.log(`  recount ${(row.recount / 1000).toFixed(2)} ms; plain ${(row.baseline / 1000).toFixed(2)} ms; target recount <= 1.2 x plain: ${row.recount <= 1.2 * row.baseline ? "met" : "missed"}`)
      context.emit(row)
    }

    if (wants(workloadNames.memory)) {
      context.log(`${workloadNames.memory}: waking up to ${memoryAggregates} accounts in a child process (budget ${memoryBudgetSeconds} s)…`)
      const report = yield* Effect.tryPromise({
        try: (signal) => Memory.measure(url, memoryAggregates, memoryBudgetSeconds, context.log, signal),
        catch: toError
      })
      context.log(
        `  woke ${report.woken} of ${report.target} in ${report.wakeSeconds.toFixed(1)} s; heap ${(report.heapBefore / 2 ** 20).toFixed(1)} MiB -> ${(report.heapAfter / 2 ** 20).toFixed(1)} MiB`
      )
      const workload = report.woken === report.target
        ? `${workloadNames.memory} (${report.woken / 1000}k resident)`
        : `${workloadNames.memory} (only ${report.woken} of ${report.target / 1000}k woken in ${memoryBudgetSeconds} s)`
      // Recount alone: there is no baseline, so baseline and ratio are NaN (null in --json).
      context.emit(recountOnly(bench, workload, "bytes/aggregate", report.bytesPerAggregate))
    }
  })

/**
 * @since 0.1.0
 */
export const suite: Suite = {
  name: bench,
  description: "commands through a Recount node vs the plain pg floor and Emmett; latency, wake time, memory",
  run
}
