/**
 * The `rpc` suite: commands through the public API from a separate client process, against the
 * same commands dispatched inside the node's process, on one embedded PostgreSQL in one run.
 *
 * The bench process hosts the node and its API (as the `commands` suite hosts its node), so the
 * in-process baseline runs where the node runs; the client is a child process (`rpc/ClientChild.ts`)
 * with 32 concurrent callers, through each face in turn:
 *
 * - WebSocket, JSON, with the typed client (`RecountClient`);
 * - WebSocket, MessagePack, with the typed client;
 * - HTTP RPC (ndjson), with the typed client;
 * - the HTTP+JSON face, with plain `fetch`, as a non-Effect caller would.
 *
 * Every command is a one-event `Deposit` to one of 1,000 opened, awake accounts; no two callers
 * share an account. With `RECOUNT_BENCH_CPU_PROFILE=<folder>`, each face then runs alone for a
 * few seconds while both processes are profiled, to show where its time goes. Rows in commands/s have ratio = face / in-process; rows in µs have
 * ratio = in-process / face. Either way, above 1 means the face did better.
 *
 * @since 0.1.0
 */
import { mkdir } from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as BenchDatabase from "./BenchDatabase.js"
import * as Measure from "./Measure.js"
import * as Client from "./rpc/Client.js"
import * as InProcess from "./rpc/InProcess.js"
import * as Profile from "./rpc/Profile.js"
import { type Face, faces, labels } from "./rpc/Protocol.js"
import * as Server from "./rpc/Server.js"
import * as Events from "./store/Events.js"
import * as Seed from "./store/Seed.js"
import { result, type Result, type Suite, type SuiteContext } from "./Suite.js"

const bench = "rpc"
const poolSize = 40
const aggregates = 1000
const clients = 32
const tenant = "bench"
/** Rows in the log before anything is measured, as in the `commands` suite. */
const fillerEvents = 40_000
/** The target applies to the WebSocket faces, the API's main way in. */
const target = 0.7
/**
 * The least warm-up per face and side. The client process starts cold: after the suites' default
 * 500 ms its rounds still climbed (WebSocket JSON from about 1,300 to 2,800 commands/s over the ten
 * rounds, in-process from 2,400 to 3,300); after 3 s both sides' rounds are flat. A node's clients
 * are long-lived processes, so steady state is what the suite compares. Both sides get the same.
 */
const faceWarmupMillis = 3000
/** How long each face runs alone under the profiler, with `RECOUNT_BENCH_CPU_PROFILE`. */
const profileMillis = 3000
const timeUnit = "µs (ratio = in-process / face)"

const workloadNames = {
  rate: (face: Face) => `commands, ${clients} clients, ${labels[face]} vs in-process`,
  latency: (face: Face, label: string) => `latency ${label}, ${clients} clients, ${labels[face]} vs in-process`
}

const quantiles = [["p50", 0.5], ["p99", 0.99]] as const

const rowsOf = (face: Face) => [workloadNames.rate(face), ...quantiles.map(([label]) => workloadNames.latency(face, label))]
const allWorkloads = faces.flatMap(rowsOf)

const toError = (e: unknown): Error => e instanceof Error ? e : new Error(String(e))
const promise = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: toError })

const formatRounds = (rates: ReadonlyArray<number>) => rates.map((r) => Math.round(r)).join(" ")


/** A time row: smaller is better, so the ratio is in-process / face. */
const timeResult = (workload: string, face: number, inProcess: number): Result => ({
  bench,
  workload,
  unit: timeUnit,
  recount: face,
  baseline: inProcess,
  ratio: face > 0 ? inProcess / face : Number.NaN
})

const run = (context: SuiteContext) =>
  Effect.gen(function*() {
    const selectedFaces = faces.filter((face) => rowsOf(face).some(context.selected))
    if (selectedFaces.length === 0) {
      return yield* Effect.fail(new Error(`no rpc workload matches --only; the workloads are:\n${allWorkloads.map((w) => `  ${w}`).join("\n")}`))
    }
    context.log(
      `note: ${os.availableParallelism()} cores; the client process, the node and PostgreSQL share them, so a face's ` +
        "client competes with the node for CPU that the in-process baseline keeps for itself"
    )
    const url = yield* BenchDatabase.acquire(context.log)

    context.log("starting a Recount node with the API…")
    const runtime = yield* Effect.acquireRelease(
      Effect.sync(() => Server.make({ url, poolSize })),
      (rt) => Effect.promise(() => rt.dispose())
    )
    // Builds the pool, runs the migrations, starts the runner and the HTTP server now.
    const address = yield* promise(() => runtime.runPromise(Server.address))
    context.log(`API on ${address}`)

    context.log(`seeding ${fillerEvents} events so every connection plans against a full table…`)
    yield* promise(() => Seed.seed(url, Events.freshStream("b"), 10_000, fillerEvents))

    const runId = Math.random().toString(36).slice(2, 8)
    const ids = Array.from({ length: aggregates }, (_, i) => `${runId}a${i}`)
    context.log(`opening ${aggregates} accounts in tenant ${tenant} and sending each one deposit…`)
    yield* promise(() => InProcess.warm(runtime, tenant, ids, clients))
    const apiKey = yield* promise(() => InProcess.writeKey(runtime, tenant))
    yield* promise(() => BenchDatabase.adminQuery(url, "VACUUM ANALYZE"))

    context.log("starting the client process…")
    const profileDir = process.env.RECOUNT_BENCH_CPU_PROFILE
    if (profileDir !== undefined) yield* promise(() => mkdir(profileDir, { recursive: true }))

    const client = yield* Effect.acquireRelease(
      promise(() => Client.start({ url: address, apiKey, tenant, ids, clients }, context.log)),
      (c) => Effect.promise(() => c.close())
    )

    if (profileDir !== undefined) {
      const nodePath = path.join(profileDir, "rpc-in-process-node.cpuprofile")
      const side = InProcess.commands(runtime, tenant, ids, clients, [])
      const work = yield* promise(() => Profile.during(nodePath, () => side.run(performance.now() + profileMillis)))
      context.log(`profiled ${work.units} commands in-process alone: ${nodePath}`)
    }

    for (const face of selectedFaces) {
      const name = workloadNames.rate(face)
      context.log(`${name}…`)
      const faceLatencies: Array<number> = []
      const inProcessLatencies: Array<number> = []
      const remote = client.side(face, faceLatencies)
      const local = InProcess.commands(runtime, tenant, ids, clients, inProcessLatencies)
      // Latencies only from the measured rounds: the warm-up opens connections and compiles.
      const warmupMillis = Math.max(context.measure.warmupMillis, faceWarmupMillis)
      context.log(`  warm-up: ${warmupMillis} ms each side`)
      yield* promise(() => Measure.warmUp(remote, local, warmupMillis))
      faceLatencies.length = 0
      inProcessLatencies.length = 0
      const clientBefore = client.cpu(face)
      const outcome = yield* promise(() => Measure.compare(remote, local, { ...context.measure, warmupMillis: 0 }))
      const clientAfter = client.cpu(face)
      context.log(`  rounds/s ${face}: ${formatRounds(outcome.recountRounds)}; in-process: ${formatRounds(outcome.baselineRounds)}`)
      context.log(
        `  node process CPU µs/command ${face}: ${outcome.recountCpuMicros.toFixed(1)}; in-process: ${outcome.baselineCpuMicros.toFixed(1)}; ` +
          `client process CPU µs/command ${face}: ${((clientAfter.micros - clientBefore.micros) / (clientAfter.units - clientBefore.units)).toFixed(1)}`
      )
      const row = result(bench, name, "commands/s", outcome)
      if (face.startsWith("websocket")) {
        context.log(`  target ${labels[face]} >= ${target} x in-process: ${row.ratio >= target ? "met" : "missed"} (${row.ratio.toFixed(2)})`)
      }
      if (context.selected(name)) context.emit(row)
      context.log(`  latency samples ${face}: ${faceLatencies.length}; in-process: ${inProcessLatencies.length}`)
      for (const [label, q] of quantiles) {
        const latency = timeResult(workloadNames.latency(face, label), Measure.percentile(faceLatencies, q) * 1000, Measure.percentile(inProcessLatencies, q) * 1000)
        context.log(`  ${label} ${face} ${(latency.recount / 1000).toFixed(2)} ms; in-process ${(latency.baseline / 1000).toFixed(2)} ms`)
        if (context.selected(latency.workload)) context.emit(latency)
      }
      if (profileDir !== undefined) {
        const nodePath = path.join(profileDir, `rpc-${face}-node.cpuprofile`)
        const clientPath = path.join(profileDir, `rpc-${face}-client.cpuprofile`)
        const units = yield* promise(() => client.profile(face, profileMillis, nodePath, clientPath))
        context.log(`  profiled ${units} commands through ${face} alone: ${nodePath}, ${clientPath}`)
      }
    }
  })

/**
 * @since 0.1.0
 */
export const suite: Suite = {
  name: bench,
  description: "commands through the public API (WebSocket, HTTP; JSON, MessagePack) from a client process vs in-process dispatch",
  run
}
