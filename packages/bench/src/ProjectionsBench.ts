/**
 * The `projections` suite: Recount's projector catching up a keyed read model (balances per
 * account, an upsert per event) over a 100,000-event log, against baselines on the same PostgreSQL
 * in the same run:
 *
 * - a plain-`pg` loop doing the same work: a page of 1,000 events read with the statement Recount's
 *   projector sends (checked before measuring), the upserts, the checkpoint, one transaction per
 *   page (per event: an upsert per event; batched: one multi-row upsert per page, as the Recount
 *   side's `makeBatched` handler sends);
 * - the same per-event loop with its upsert prepared once and run by name, as Recount's projector
 *   runs a handler's statements (on by default, `PgPool`'s `namedStatements`), and that loop again
 *   with a page's upserts pipelined, as Recount sends a handler's writes: no targets, they tell
 *   Recount's own cost per event from what preparing and pipelining save;
 * - Emmett's PostgreSQL projector over the same events in Emmett's own store (per event only).
 *
 * A round builds a fresh read model (its own projection name and table) from the start of the log
 * and is timed from start until the checkpoint reaches the head; rates are events per second, the
 * median of the rounds, which rotate between sides so no side always runs first. Each round replays
 * the whole log, so the suite runs fewer rounds than `--rounds` says: 0.3 of it for the per-event
 * sides (3 by default) and half of it for the batched ones (5). `--round-ms` and `--warmup-ms` do
 * not apply: the warm-up is one catch-up per side over the first 10,000 events.
 *
 * Emmett's log is written by one writer: its consumer pages by global position alone and skips
 * events that a later transaction wrote at a lower position, which concurrent writers produce.
 *
 * Then the live lag: from an append (500 single-event appends per second through Recount's event
 * store, open loop) to its read-model row's commit, p50 and p99, Recount alone. On a shared 2-core
 * machine the tail follows the neighbours' load: the log line with each second's worst lag shows
 * whether it is spread out or one stall the projector then works off.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import pg from "pg"
import * as BenchDatabase from "./BenchDatabase.js"
import * as EmmettProjector from "./projections/EmmettProjector.js"
import * as LiveLag from "./projections/LiveLag.js"
import * as Log from "./projections/Log.js"
import * as PlainProjector from "./projections/PlainProjector.js"
import * as ReadParity from "./projections/ReadParity.js"
import * as ReadModel from "./projections/ReadModel.js"
import * as RecountProjector from "./projections/RecountProjector.js"
import { recountOnly, result, type Suite, type SuiteContext } from "./Suite.js"
import { percentile } from "./Measure.js"

const bench = "projections"
const accounts = 1000
/** Passes of `Log.perAppend` events per account: 10 passes make the 100,000 events. */
const passes = 10
const logEvents = accounts * Log.perAppend * passes
/** The first pass is written alone and replayed once per side, unrecorded, as the warm-up. */
const warmupPasses = 1
const pageSize = 1000
const poolSize = 10
const seedWriters = 4
const live: LiveLag.Options = { perSecond: 500, seconds: 22, warmupSeconds: 2, accounts: 1000 }

const workloadNames = {
  perEventPlain: `catch-up ${logEvents / 1000}k events, per-event handler vs plain pg loop`,
  perEventPrepared: `catch-up ${logEvents / 1000}k events, per-event handler vs plain pg loop, upsert prepared`,
  perEventPipelined: `catch-up ${logEvents / 1000}k events, per-event handler vs plain pg loop, upserts prepared and pipelined`,
  perEventEmmett: `catch-up ${logEvents / 1000}k events, per-event handler vs Emmett projector`,
  batched: `catch-up ${logEvents / 1000}k events, batched handler vs plain pg batched loop`,
  lagP50: `live lag p50, ${live.perSecond} appends/s, append to read-model commit`,
  lagP99: `live lag p99, ${live.perSecond} appends/s, append to read-model commit`
}
const allWorkloads = Object.values(workloadNames)

const targets: Readonly<Record<string, number>> = {
  [workloadNames.perEventPlain]: 0.9,
  [workloadNames.batched]: 0.8
}

const toError = (e: unknown): Error => e instanceof Error ? e : new Error(String(e))
const promise = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: toError })

const median = (ns: ReadonlyArray<number>): number => {
  const sorted = [...ns].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}


/** One side of a catch-up comparison: builds a fresh read model, returns its time and the table to check. */
interface Side {
  readonly name: string
  readonly run: (round: string) => Promise<{ readonly seconds: number; readonly table: string; readonly pool: pg.Pool }>
}

interface Samples {
  readonly rates: Array<number>
  readonly cpuMicros: Array<number>
}

const run = (context: SuiteContext) =>
  Effect.gen(function*() {
    const selected = allWorkloads.filter(context.selected)
    if (selected.length === 0) {
      return yield* Effect.fail(new Error(`no projections workload matches --only; the workloads are:\n${allWorkloads.map((w) => `  ${w}`).join("\n")}`))
    }
    const wants = (name: string) => selected.includes(name)
    const wantsPerEvent = wants(workloadNames.perEventPlain) || wants(workloadNames.perEventPrepared) ||
      wants(workloadNames.perEventPipelined) || wants(workloadNames.perEventEmmett)
    const wantsBatched = wants(workloadNames.batched)
    const wantsCatchUp = wantsPerEvent || wantsBatched
    const url = yield* BenchDatabase.acquire(context.log)

    const runtime = yield* Effect.acquireRelease(
      Effect.sync(() => RecountProjector.make(url, poolSize)),
      (rt) => Effect.promise(() => rt.dispose())
    )
    // Builds the pool and runs the migrations now, outside any measurement.
    yield* promise(() => runtime.runtime())
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const p = new pg.Pool({ connectionString: url, max: 4 })
        p.on("error", () => {})
        return p
      }),
      (p) => Effect.promise(() => p.end())
    )
    yield* promise(() => pool.query(PlainProjector.createCheckpoints))
    // The plain loop must read with Recount's own statement, or the comparison measures two reads.
    const parity = yield* promise(() => ReadParity.check(runtime, pageSize))
    if (parity !== undefined) return yield* Effect.fail(new Error(`the plain loop no longer does Recount's SQL work: ${parity}`))
    const emmett = wants(workloadNames.perEventEmmett)
      ? yield* Effect.acquireRelease(
        promise(() => EmmettProjector.make(url, 4)),
        (e) => Effect.promise(() => e.close().catch(() => undefined))
      )
      : undefined
    if (!EmmettProjector.parsersUntouched()) {
      return yield* Effect.fail(new Error("Emmett's pg type parsers leaked into the process-wide ones"))
    }

    let tables = 0
    const recountSide = (mode: "per-event" | "batched"): Side => ({
      name: `recount ${mode}`,
      run: async (round) => {
        const n = tables++
        const table = `rc${mode === "batched" ? "b" : "e"}${round}_${n}`
        const projection = mode === "batched"
          ? RecountProjector.batched(`bench_${table}`, table, pageSize)
          : RecountProjector.perEvent(`bench_${table}`, table, pageSize)
        return { seconds: await RecountProjector.catchUp(runtime, projection, head!), table, pool }
      }
    })
    const plainSide = (mode: PlainProjector.Mode): Side => ({
      name: `plain ${mode}`,
      run: async (round) => {
        const table = `plain${{ "per-event": "e", "per-event-prepared": "p", "per-event-pipelined": "q", batched: "b" }[mode]}${round}_${tables++}`
        const start = performance.now()
        await PlainProjector.catchUp(pool, table, mode, pageSize)
        return { seconds: (performance.now() - start) / 1000, table, pool }
      }
    })
    const emmettSide = (e: EmmettProjector.Emmett): Side => ({
      name: "emmett per-event",
      run: async (round) => {
        const table = `emmett${round}_${tables++}`
        return { seconds: await EmmettProjector.catchUp(e, table, pageSize), table, pool: e.pool }
      }
    })

    let head: RecountProjector.Head | undefined
    const findHead = async () => {
      const { rows } = await pool.query<{ tenant: string; stream_name: string; stream_version: string }>(
        "SELECT tenant, stream_name, stream_version FROM recount_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1"
      )
      const row = rows[0]!
      head = { tenant: row.tenant, streamName: row.stream_name, streamVersion: Number(row.stream_version) }
    }
    const analyse = async () => {
      await pool.query("VACUUM ANALYZE recount_events")
      if (emmett) await pool.query("VACUUM ANALYZE emt_messages")
    }

    /** Runs a side once and checks its read model; the check is not timed. */
    const once = (side: Side, round: string, expected: ReadModel.Totals, into?: Samples) =>
      promise(async () => {
        const cpu = process.cpuUsage()
        const { seconds, table, pool: on } = await side.run(round)
        const used = process.cpuUsage(cpu)
        await ReadModel.verify(on, table, expected, side.name)
        if (!EmmettProjector.parsersUntouched()) throw new Error("Emmett's pg type parsers leaked into the process-wide ones")
        into?.rates.push(expected.events / seconds)
        into?.cpuMicros.push((used.user + used.system) / expected.events)
        return seconds
      })

    const perEventSides = wantsPerEvent
      ? [
        recountSide("per-event"),
        ...(wants(workloadNames.perEventPlain) ? [plainSide("per-event")] : []),
        ...(wants(workloadNames.perEventPrepared) ? [plainSide("per-event-prepared")] : []),
        ...(wants(workloadNames.perEventPipelined) ? [plainSide("per-event-pipelined")] : []),
        ...(emmett ? [emmettSide(emmett)] : [])
      ]
      : []
    const batchedSides = wantsBatched ? [recountSide("batched"), plainSide("batched")] : []

    let expected: ReadModel.Totals = { accounts: 0, events: 0, balance: 0 }
    const accountList = Log.makeAccounts(accounts)
    const writePasses = (from: number, to: number) =>
      promise(async () => {
        const recount = await Log.recountWriters(url, seedWriters)
        try {
          const totals = await Log.writePasses(accountList, from, to, recount.writers)
          // One writer: Emmett's consumer pages by global position alone, so with concurrent writers
          // it skips events of a later transaction that took a lower position (seen here: 613 of
          // 10,000). Written in order, its log has none to skip.
          if (emmett) await Log.writePasses(accountList, from, to, EmmettProjector.writers(emmett, 1))
          expected = Log.add(expected, totals)
        } finally {
          await recount.close()
        }
        await analyse()
        await findHead()
      })

    if (wantsCatchUp) {
      context.log(`writing the first ${accounts * Log.perAppend * warmupPasses} events${emmett ? " to Recount's and to Emmett's store" : ""}…`)
      yield* writePasses(0, warmupPasses)
      context.log("warming up: one catch-up per side over them…")
      for (const side of [...perEventSides, ...batchedSides]) {
        const seconds = yield* once(side, "w", expected)
        context.log(`  ${side.name}: ${Math.round(expected.events / seconds)} events/s`)
      }
      context.log(`writing the rest, ${logEvents} events in all…`)
      yield* writePasses(warmupPasses, passes)
    }

    /** Rounds in rotating order: with three sides each runs first, second and third equally often. */
    const rounds = (sides: ReadonlyArray<Side>, count: number, label: string) =>
      Effect.gen(function*() {
        const samples = new Map(sides.map((s) => [s.name, { rates: [], cpuMicros: [] } as Samples]))
        for (let r = 0; r < count; r++) {
          for (let i = 0; i < sides.length; i++) {
            const side = sides[(r + i) % sides.length]!
            yield* once(side, `${label}${r}`, expected, samples.get(side.name))
          }
        }
        for (const side of sides) {
          const s = samples.get(side.name)!
          context.log(
            `  ${side.name}: rounds ${s.rates.map((x) => Math.round(x)).join(" ")} events/s; client CPU ${median(s.cpuMicros).toFixed(1)} µs/event`
          )
        }
        return (name: string) => median(samples.get(name)!.rates)
      })

    const emit = (name: string, recount: number, baseline: number) => {
      const row = result(bench, name, "events/s", { recount, baseline })
      const target = targets[name]
      if (target !== undefined) context.log(`  ${name}: ratio ${row.ratio.toFixed(2)}, target >= ${target}: ${row.ratio >= target ? "met" : "missed"}`)
      context.emit(row)
    }

    if (wantsPerEvent) {
      const count = Math.max(1, Math.ceil(context.measure.rounds * 0.3))
      context.log(`per-event catch-up of ${logEvents} events, ${count} rounds of ${perEventSides.map((s) => s.name).join(", ")}…`)
      const rate = yield* rounds(perEventSides, count, "p")
      const recount = rate("recount per-event")
      if (wants(workloadNames.perEventPlain)) emit(workloadNames.perEventPlain, recount, rate("plain per-event"))
      if (wants(workloadNames.perEventPrepared)) emit(workloadNames.perEventPrepared, recount, rate("plain per-event-prepared"))
      if (wants(workloadNames.perEventPipelined)) emit(workloadNames.perEventPipelined, recount, rate("plain per-event-pipelined"))
      if (emmett) {
        const e = rate("emmett per-event")
        if (wants(workloadNames.perEventPlain)) {
          context.log(`  Emmett / plain pg loop: ${(e / rate("plain per-event")).toFixed(2)} (the issue had measured about 0.4)`)
        }
        emit(workloadNames.perEventEmmett, recount, e)
      }
    }

    if (wantsBatched) {
      const count = Math.max(1, Math.ceil(context.measure.rounds / 2))
      context.log(`batched catch-up of ${logEvents} events, ${count} rounds of ${batchedSides.map((s) => s.name).join(", ")}…`)
      const rate = yield* rounds(batchedSides, count, "b")
      emit(workloadNames.batched, rate("recount batched"), rate("plain batched"))
    }

    if (wants(workloadNames.lagP50) || wants(workloadNames.lagP99)) {
      context.log(
        `live lag: ${live.perSecond} single-event appends/s for ${live.seconds} s (the first ${live.warmupSeconds} s dropped), per-event projection, default poll interval…`
      )
      const report = yield* promise(() => LiveLag.measure(runtime, url, live, "bench_live_lag"))
      context.log(
        `  sent ${report.sent} (${report.achievedRate.toFixed(0)}/s after the warm-up), ${report.failed} failed, ${report.seen} seen in the read model; ${report.lags.length} samples`
      )
      if (report.seen < report.sent - report.failed) {
        return yield* Effect.fail(new Error(`only ${report.seen} of ${report.sent - report.failed} appended events reached the read model`))
      }
      context.log(
        `  append latency (part of the lag) p50 ${percentile(report.appendLatencies, 0.5).toFixed(1)} ms, p99 ${percentile(report.appendLatencies, 0.99).toFixed(1)} ms`
      )
      context.log(`  worst lag of each second's appends, ms: ${report.worstPerSecond.map((x) => Math.round(x)).join(" ")}`)
      for (const [name, q] of [[workloadNames.lagP50, 0.5], [workloadNames.lagP99, 0.99]] as const) {
        if (!wants(name)) continue
        // In µs: the table prints whole units, and lags of a few ms need the digits.
        const row = recountOnly(bench, name, "µs", percentile(report.lags, q) * 1000)
        context.log(`  ${name}: ${(row.recount / 1000).toFixed(2)} ms`)
        context.emit(row)
      }
    }
  })

/**
 * @since 0.1.0
 */
export const suite: Suite = {
  name: bench,
  description: "projection catch-up vs a plain pg loop and Emmett's projector; live lag",
  run
}
