/**
 * The command workloads through Recount's public API: `CommandBus.dispatch` to `BankAccount`
 * instances on one node, and `AggregateHistory.stateAt` for a wake from the store.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { EventStore } from "@recount/core/EventStore"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import { SnapshotStore } from "@recount/core/SnapshotStore"
import * as AggregateHistory from "@recount/runtime/AggregateHistory"
import { CommandBus } from "@recount/runtime/CommandBus"
import { BankAccount, Deposit, Deposited, Open, Opened } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Measure from "../Measure.js"
import type { NodeRuntime } from "./Node.js"

const deposit = new Deposit({ amount: 1 })

/**
 * Opens every account and sends each one deposit, so every instance is awake and has decided a
 * command before anything is measured.
 *
 * @since 0.1.0
 */
export const warm = (runtime: NodeRuntime, ids: ReadonlyArray<string>, concurrency: number): Promise<void> =>
  runtime.runPromise(Effect.gen(function*() {
    const bus = yield* CommandBus
    yield* Effect.forEach(ids, (id) =>
      Effect.gen(function*() {
        yield* bus.dispatch(BankAccount, id, new Open({ owner: `owner ${id}` }), { commandId: randomUUID() })
        yield* bus.dispatch(BankAccount, id, deposit, { commandId: randomUUID() })
      }), { concurrency, discard: true })
  }))

/** Client `c` of `clients` owns the ids at positions c, c + clients, …: no two clients share one. */
const owned = (ids: ReadonlyArray<string>, client: number, clients: number): Array<string> =>
  ids.filter((_, i) => i % clients === client)

/**
 * `clients` concurrent clients, each dispatching one deposit at a time round its own accounts;
 * counts the commands that finished by the deadline.
 *
 * @since 0.1.0
 */
export const commands = (runtime: NodeRuntime, ids: ReadonlyArray<string>, clients: number): Measure.Side => ({
  run: (deadline) =>
    runtime.runPromise(Effect.gen(function*() {
      const bus = yield* CommandBus
      const client = (c: number) =>
        Effect.gen(function*() {
          const mine = owned(ids, c, clients)
          let done = 0
          for (let i = 0; ; i++) {
            yield* bus.dispatch(BankAccount, mine[i % mine.length]!, deposit, { commandId: randomUUID() })
            if (performance.now() > deadline) return done
            done++
          }
        })
      const counts = yield* Effect.forEach(Array.from({ length: clients }, (_, c) => c), client, { concurrency: clients })
      return { units: counts.reduce((a, b) => a + b, 0), until: deadline }
    }))
})

/**
 * One client, one deposit at a time round the accounts, until the deadline; pushes each
 * command's round trip (ms) to `samples`.
 *
 * @since 0.1.0
 */
export const latencies = (runtime: NodeRuntime, ids: ReadonlyArray<string>, samples: Array<number>): Measure.Side => ({
  run: (deadline) =>
    runtime.runPromise(Effect.gen(function*() {
      const bus = yield* CommandBus
      let units = 0
      for (let i = 0; performance.now() < deadline; i++) {
        const start = performance.now()
        yield* bus.dispatch(BankAccount, ids[i % ids.length]!, deposit, { commandId: randomUUID() })
        samples.push(performance.now() - start)
        units++
      }
      return { units, until: performance.now() }
    }))
})

/**
 * Writes an account of `length` events straight to the store (one `Opened`, then deposits of 1),
 * without waking an instance, and saves a snapshot of its state at `snapshotAt`, encoded as the
 * runtime would.
 *
 * @since 0.1.0
 */
export const seedLongAccount = (runtime: NodeRuntime, id: string, length: number, snapshotAt: number): Promise<void> =>
  runtime.runPromise(Effect.gen(function*() {
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const streamName = `${BankAccount.name}-${id}`
    const opened = yield* BankAccount.events.toEventData(new Opened({ owner: `owner ${id}` }))
    const deposited = yield* BankAccount.events.toEventData(new Deposited({ amount: 1 }))
    const batch = 100
    for (let version = 0; version < length; version += batch) {
      const size = Math.min(batch, length - version)
      const events = Array.from({ length: size }, (_, i) => version + i === 0 ? opened : deposited)
      yield* store.append(streamName, events, { expectedVersion: ExpectedVersion.exact(version) })
    }
    const policy = BankAccount.snapshot!
    const state = { status: "open" as const, owner: `owner ${id}`, balance: snapshotAt - 1 }
    const encoded = yield* Schema.encode(policy.schema)(state)
    yield* snapshots.save({ streamName, version: snapshotAt, schemaVersion: policy.version, state: encoded })
  }))

/**
 * Wakes the account from the store again and again, as an entity does; every wake must end on
 * the stream's last version with the right balance, and start from the snapshot exactly when
 * asked to.
 *
 * @since 0.1.0
 */
export const wakes = (runtime: NodeRuntime, id: string, length: number, useSnapshot: boolean): Measure.Side => ({
  run: (deadline) =>
    runtime.runPromise(Effect.gen(function*() {
      let units = 0
      do {
        const woken = yield* AggregateHistory.stateAt(BankAccount, id, { useSnapshot })
        if (woken.version !== length || woken.state.balance !== length - 1 || (woken.fromSnapshot !== undefined) !== useSnapshot) {
          return yield* Effect.dieMessage(`Recount woke ${id} at version ${woken.version}, balance ${woken.state.balance}, snapshot ${woken.fromSnapshot}`)
        }
        units++
      } while (performance.now() < deadline)
      return { units, until: performance.now() }
    }))
})
