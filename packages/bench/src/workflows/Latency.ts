/**
 * End-to-end latency of a three-activity workflow: from the append of its triggering event to the
 * third activity's event in the store, one workflow at a time.
 *
 * Each sample appends one `TransferRequested` event (with an event id chosen here, so the
 * execution id, and with it each step's command id `<execution id>/<step>`, is known in advance)
 * through the node's `EventStore`; the trigger runs in the same process, as it does on a single
 * node. The waiter checks the store for the next step's command (`findCommand`) each time an
 * append in this process signals the store's wake-up (the aggregates append through the same
 * store), with a 10 ms poll as a fallback; so "stored" is the commit of the step's append, plus
 * the wake-up and one query. The next sample starts once the workflow's final reply is stored,
 * so a sample never overlaps the previous workflow's bookkeeping.
 *
 * The three accounts are opened once and stay resident (warm aggregates): the workflow's own cost
 * is what is measured, not an aggregate's wake-up.
 *
 * @since 0.1.0
 */
import { CommandBus } from "@recount/runtime/CommandBus"
import { EventStore } from "@recount/core/EventStore"
import { BankAccount, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Node from "./Node.js"

/** @since 0.1.0 */
export interface Sample {
  /** Append of the triggering event to each step's event stored, ms. */
  readonly steps: readonly [number, number, number]
  /** Append of the triggering event to the workflow's final reply seen by `poll`, ms. */
  readonly completed: number
}

const balanceOf = (state: unknown): number => (state as { readonly balance: number }).balance

const wallMillis = () => performance.now()

/**
 * `count` samples after `warmup` unrecorded ones.
 *
 * @since 0.1.0
 */
export const measure = (options: { readonly samples: number; readonly warmup: number; readonly label: string }) =>
  Effect.gen(function*() {
    const bus = yield* CommandBus
    const store = yield* EventStore
    const accounts = [1, 2, 3].map((i) => `wflat${options.label}-${i}`) as [string, string, string]
    yield* Effect.forEach(accounts, (id) => bus.dispatch(BankAccount, id, new Open({ owner: id })), { discard: true })
    // Opening starts each account's `BenchBonus`: let those finish before anything is measured.
    for (const id of accounts) {
      for (let tries = 0; balanceOf((yield* bus.getState(BankAccount, id)).state) < Node.bonusAmount; tries++) {
        if (tries > 3000) return yield* Effect.dieMessage(`account ${id} got no bonus in 30 s`)
        yield* Effect.sleep("10 millis")
      }
    }

    const samples: Array<Sample> = []
    for (let i = 0; i < options.warmup + options.samples; i++) {
      const eventId = crypto.randomUUID()
      const payload = { accounts, amount: 1, triggeringEventId: eventId }
      const executionId = yield* Node.BenchTransfer.executionId(payload)
      const t0 = wallMillis()
      yield* store.append(`${Node.transferCategory}-${options.label}${i}`, [{
        eventId,
        type: "TransferRequested",
        data: { accounts, amount: 1 }
      }])
      const steps: Array<number> = []
      const deadline = t0 + 60_000
      while (steps.length < Node.transferSteps.length) {
        const seen = store.appended.count()
        const found = yield* store.findCommand(`${executionId}/${Node.transferSteps[steps.length]}`)
        if (Option.isSome(found)) {
          steps.push(wallMillis() - t0)
          continue
        }
        if (wallMillis() > deadline) return yield* Effect.dieMessage(`workflow ${executionId}: step ${steps.length + 1} not stored in 60 s`)
        yield* store.appended.await(seen, "10 millis")
      }
      let completed = Number.NaN
      while (Number.isNaN(completed)) {
        const result = yield* Node.BenchTransfer.poll(executionId)
        if (result !== undefined) {
          if (result._tag !== "Complete" || result.exit._tag !== "Success") {
            return yield* Effect.dieMessage(`workflow ${executionId} ended with ${JSON.stringify(result)}`)
          }
          completed = wallMillis() - t0
        } else if (wallMillis() > deadline) {
          return yield* Effect.dieMessage(`workflow ${executionId}: no final reply in 60 s`)
        } else {
          yield* Effect.sleep("2 millis")
        }
      }
      if (i >= options.warmup) samples.push({ steps: steps as unknown as [number, number, number], completed })
    }
    // Each workflow deposited 1 into each account, once.
    const expected = Node.bonusAmount + options.warmup + options.samples
    for (const id of accounts) {
      const balance = balanceOf((yield* bus.getState(BankAccount, id)).state)
      if (balance !== expected) return yield* Effect.dieMessage(`account ${id} has balance ${balance}, expected ${expected}`)
    }
    return samples
  })
