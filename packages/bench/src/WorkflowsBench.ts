/**
 * The `workflows` suite: workflows started by events (`EventWorkflow.trigger`) on one Recount
 * node (`RecountNode.layerSingle`, every shard in this process, the cluster's tables in the same
 * embedded PostgreSQL), Recount alone: there is no baseline, so the rows print "n/a" there.
 *
 * - Throughput from a backlog (`workflows/Throughput.ts`): `BenchBonus` (one activity: a
 *   `Deposit`) for 1,000 `Opened` events appended while the trigger is paused, timed from its
 *   resume; starts/s until every execution exists, workflows/s until every one has completed.
 *   One unrecorded warm-up round of 200, then `--rounds` × 0.3 rounds (3 by default); the rows
 *   are the medians.
 * - Latency (`workflows/Latency.ts`): `BenchTransfer` (three activities, each a `Deposit` into
 *   another account, one after another), one at a time, from the append of its triggering event
 *   to the third activity's event in the store; p50 and p99 of 150 samples after 10 unrecorded.
 *
 * `--round-ms` and `--warmup-ms` do not apply. On a shared 2-core machine the node, PostgreSQL and
 * the neighbours compete for the cores: read the rows as an order of magnitude.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as BenchDatabase from "./BenchDatabase.js"
import { recountOnly, type Suite, type SuiteContext } from "./Suite.js"
import * as Latency from "./workflows/Latency.js"
import * as Node from "./workflows/Node.js"
import * as Throughput from "./workflows/Throughput.js"
import { percentile } from "./Measure.js"

const bench = "workflows"
const poolSize = 20
const backlog = 1000
const warmupBacklog = 200
const latencySamples = 150
const latencyWarmup = 10

const workloadNames = {
  starts: `starts from a backlog of ${backlog / 1000}k trigger events`,
  completed: `completed from a backlog of ${backlog / 1000}k trigger events, 1 activity each`,
  latencyP50: "latency p50, 3 activities, trigger append to last activity's event",
  latencyP99: "latency p99, 3 activities, trigger append to last activity's event"
}
const allWorkloads = Object.values(workloadNames)

const median = (ns: ReadonlyArray<number>): number => {
  const sorted = [...ns].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}



const run = (context: SuiteContext) =>
  Effect.gen(function*() {
    const selected = allWorkloads.filter(context.selected)
    if (selected.length === 0) {
      return yield* Effect.fail(new Error(`no workflows workload matches --only; the workloads are:\n${allWorkloads.map((w) => `  ${w}`).join("\n")}`))
    }
    const wants = (name: string) => selected.includes(name)
    const url = yield* BenchDatabase.acquire(context.log)

    const node = yield* Effect.acquireRelease(
      Effect.sync(() => Node.make({ url, poolSize })),
      (rt) => Effect.promise(() => rt.dispose())
    )
    context.log("starting the node (layerSingle: BankAccount, BenchBonus, BenchTransfer and their triggers)…")
    const started = performance.now()
    yield* Effect.tryPromise({ try: () => node.runtime(), catch: (e) => e instanceof Error ? e : new Error(String(e)) })
    context.log(`  up in ${Math.round(performance.now() - started)} ms`)
    const onNode = <A, E>(effect: Effect.Effect<A, E, ManagedRuntime.ManagedRuntime.Context<Node.NodeRuntime>>) =>
      Effect.tryPromise({ try: () => node.runPromise(effect), catch: (e) => e instanceof Error ? e : new Error(String(e)) })

    if (wants(workloadNames.starts) || wants(workloadNames.completed)) {
      const count = Math.max(1, Math.ceil(context.measure.rounds * 0.3))
      context.log(`throughput: warm-up round of ${warmupBacklog} workflows, then ${count} rounds of ${backlog} (trigger paused while the events are appended, timed from its resume)…`)
      const show = (r: Throughput.Round) =>
        `${Math.round(r.workflows / r.startSeconds)} starts/s, ${Math.round(r.workflows / r.completeSeconds)} workflows/s (${r.completeSeconds.toFixed(1)} s), node CPU ${(r.cpuMicros / 1000).toFixed(1)} ms/workflow`
      const warm = yield* onNode(Throughput.round("w", warmupBacklog))
      context.log(`  warm-up: ${show(warm)}`)
      const rounds: Array<Throughput.Round> = []
      for (let r = 0; r < count; r++) {
        const round = yield* onNode(Throughput.round(String(r), backlog))
        context.log(`  round ${r + 1}: ${show(round)}`)
        rounds.push(round)
      }
      if (wants(workloadNames.starts)) context.emit(recountOnly(bench, workloadNames.starts, "starts/s", median(rounds.map((r) => r.workflows / r.startSeconds))))
      if (wants(workloadNames.completed)) {
        context.emit(recountOnly(bench, workloadNames.completed, "workflows/s", median(rounds.map((r) => r.workflows / r.completeSeconds))))
      }
    }

    if (wants(workloadNames.latencyP50) || wants(workloadNames.latencyP99)) {
      context.log(`latency: ${latencySamples} three-activity workflows one at a time (after ${latencyWarmup} unrecorded)…`)
      const samples = yield* onNode(Latency.measure({ samples: latencySamples, warmup: latencyWarmup, label: "l" }))
      const ends = samples.map((s) => s.steps[2])
      const quantiles = (xs: ReadonlyArray<number>) => `p50 ${percentile(xs, 0.5).toFixed(1)} ms, p99 ${percentile(xs, 0.99).toFixed(1)} ms`
      context.log(`  to step 1's event: ${quantiles(samples.map((s) => s.steps[0]))}`)
      context.log(`  step 1 to step 2: ${quantiles(samples.map((s) => s.steps[1] - s.steps[0]))}`)
      context.log(`  step 2 to step 3: ${quantiles(samples.map((s) => s.steps[2] - s.steps[1]))}`)
      context.log(`  to the workflow's final reply: ${quantiles(samples.map((s) => s.completed))}`)
      for (const [name, q] of [[workloadNames.latencyP50, 0.5], [workloadNames.latencyP99, 0.99]] as const) {
        if (!wants(name)) continue
        // In µs: the table prints whole units.
        const row = recountOnly(bench, name, "µs", percentile(ends, q) * 1000)
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
  description: "workflows started by events on one node: starts/s and workflows/s from a backlog; three-activity latency",
  run
}
