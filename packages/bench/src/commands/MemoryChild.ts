/**
 * Run by `Memory.measure` in a process of its own, with `--expose-gc`: wakes many small accounts
 * on one node (one `Open` each), forces collections, and prints the heap growth per resident
 * aggregate as one JSON line on stdout. Progress goes to stderr.
 *
 * Arguments: the database URL, how many aggregates, the time budget for waking them (seconds).
 * When the budget runs out first, it reports on the aggregates woken so far.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { CommandBus } from "@recount/runtime/CommandBus"
import { BankAccount, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Node from "./Node.js"

/** What the child prints. */
export interface MemoryReport {
  readonly target: number
  readonly woken: number
  readonly wakeSeconds: number
  readonly heapBefore: number
  readonly heapAfter: number
  readonly bytesPerAggregate: number
}

const gc = (globalThis as { gc?: () => void }).gc

const settle = async (): Promise<number> => {
  for (let i = 0; i < 6; i++) {
    gc!()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return process.memoryUsage().heapUsed
}

const main = async () => {
  const [url, countArg, budgetArg] = process.argv.slice(2)
  if (url === undefined || gc === undefined) throw new Error("usage: node --expose-gc --import tsx MemoryChild.ts <url> <count> <budget seconds>")
  const target = Number(countArg ?? 100_000)
  const budgetMillis = Number(budgetArg ?? 150) * 1000
  const runtime = Node.make({
    url,
    poolSize: 40,
    runtimeConfig: { maxResidentAggregates: target * 2, idleTimeout: "1 hour" }
  })
  const run = Math.random().toString(36).slice(2, 8)
  const wake = (prefix: string, count: number, deadline: number) =>
    runtime.runPromise(Effect.gen(function*() {
      const bus = yield* CommandBus
      let next = 0
      const worker = Effect.gen(function*() {
        while (next < count && performance.now() < deadline) {
          const id = `${run}${prefix}${next++}`
          yield* bus.dispatch(BankAccount, id, new Open({ owner: "m" }), { commandId: randomUUID() })
        }
      })
      yield* Effect.all(Array.from({ length: 64 }, () => worker), { concurrency: "unbounded", discard: true })
      return Math.min(next, count)
    }))

  // Everything fixed (the node, the pools, compiled code) exists before the first measurement.
  await wake("w", 2000, Number.POSITIVE_INFINITY)
  const heapBefore = await settle()
  const start = performance.now()
  let woken = 0
  const deadline = start + budgetMillis
  while (woken < target && performance.now() < deadline) {
    woken += await wake(`m${woken}-`, Math.min(10_000, target - woken), deadline)
    process.stderr.write(`  ${woken} aggregates awake after ${((performance.now() - start) / 1000).toFixed(0)} s\n`)
  }
  const wakeSeconds = (performance.now() - start) / 1000
  process.stderr.write("  collecting garbage…\n")
  const heapAfter = await settle()
  const report: MemoryReport = {
    target,
    woken,
    wakeSeconds,
    heapBefore,
    heapAfter,
    bytesPerAggregate: (heapAfter - heapBefore) / woken
  }
  // No orderly shutdown: stopping tens of thousands of entities takes about a minute and measures
  // nothing. The parent drops this process's database, connections and all.
  process.stdout.write(JSON.stringify(report) + "\n", () => process.exit(0))
}

main().catch((e) => {
  process.stderr.write(`memory child failed: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
})
