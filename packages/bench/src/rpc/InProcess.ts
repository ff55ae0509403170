/**
 * The baseline of the `rpc` suite: the same deposits dispatched with `CommandBus.dispatch` inside
 * the node's process, with the same number of concurrent callers, so the only difference from a
 * face is the way in (network, encoding, authentication, the RPC server).
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import * as ApiKeys from "@recount/rpc/ApiKeys"
import { CommandBus } from "@recount/runtime/CommandBus"
import { BankAccount, Deposit, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import type * as Measure from "../Measure.js"
import * as Callers from "./Callers.js"
import type { ServerRuntime } from "./Server.js"

const deposit = new Deposit({ amount: 1 })

/**
 * Opens every account in `tenant` and sends each one deposit, so every instance is awake and has
 * decided a command before anything is measured.
 *
 * @since 0.1.0
 */
export const warm = (runtime: ServerRuntime, tenant: string, ids: ReadonlyArray<string>, concurrency: number): Promise<void> =>
  runtime.runPromise(Effect.gen(function*() {
    const bus = yield* CommandBus
    yield* Effect.forEach(ids, (id) =>
      Effect.gen(function*() {
        yield* bus.dispatch(BankAccount, id, new Open({ owner: `owner ${id}` }), { tenant, commandId: randomUUID() })
        yield* bus.dispatch(BankAccount, id, deposit, { tenant, commandId: randomUUID() })
      }), { concurrency, discard: true })
  }))

/**
 * A write key of `tenant`, as an operator would hand to a service: calls with it take the
 * ordinary authentication path (a hash and a cached row), not the bootstrap key's shortcut.
 *
 * @since 0.1.0
 */
export const writeKey = (runtime: ServerRuntime, tenant: string): Promise<string> =>
  runtime.runPromise(Effect.gen(function*() {
    const keys = yield* ApiKeys.ApiKeys
    const created = yield* keys.create({ tenant, role: "write", name: "rpc bench" })
    return created.key
  }))

/** Caller `c` of `clients` owns the ids at positions c, c + clients, …: no two callers share one. */
const owned = (ids: ReadonlyArray<string>, client: number, clients: number): Array<string> =>
  ids.filter((_, i) => i % clients === client)

/**
 * `clients` concurrent callers, each dispatching one deposit at a time round its own accounts;
 * counts the commands that finished by the deadline (see `Callers.ts` on their rate) and pushes
 * their round trips (ms).
 *
 * @since 0.1.0
 */
export const commands = (
  runtime: ServerRuntime,
  tenant: string,
  ids: ReadonlyArray<string>,
  clients: number,
  latencies: Array<number>
): Measure.Side => ({
  run: (deadline) =>
    runtime.runPromise(Effect.gen(function*() {
      const bus = yield* CommandBus
      const roundStart = performance.now()
      const callers = Array.from({ length: clients }, () => Callers.caller(roundStart))
      const caller = (c: number) =>
        Effect.gen(function*() {
          const mine = owned(ids, c, clients)
          const me = callers[c]!
          for (let i = 0; ; i++) {
            const start = performance.now()
            yield* bus.dispatch(BankAccount, mine[i % mine.length]!, deposit, { tenant, commandId: randomUUID() })
            const end = performance.now()
            if (end > deadline) return
            latencies.push(end - start)
            me.done++
            me.lastEnd = end
          }
        })
      yield* Effect.forEach(Array.from({ length: clients }, (_, c) => c), caller, { concurrency: clients, discard: true })
      // Counted as the client process counts, so that both sides carry the same bias, if any.
      const { millis, units } = Callers.tally(roundStart, deadline - roundStart, callers)
      return { units, until: roundStart + millis }
    }))
})
