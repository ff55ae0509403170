/**
 * While catching up, the runner reads and decodes the next page during the current page's
 * transaction. An event that does not decode on such a page must be handled as on any other: its
 * batch fails, the events are tried one at a time, the bad one is parked, the rest applied once.
 * The runner reads up to two pages ahead (two when it had to wait for a read), so the second test
 * puts the bad event three pages into a batch of pages read ahead.
 */
import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { layerLocal, Projections } from "../src/Projections.js"
import * as ReadModelTable from "../src/ReadModelTable.js"
import { BankAccount } from "@recount/testing/TestAggregates"
import { caughtUp, foldBalances, fresh, idOf, readLog, readRows } from "./support/balances.js"

const name = "prefetched_balances"

/** Pages of 3: a log of 10 events is caught up over four pages, three of them read ahead. */
const balances = ReadModelTable.make({
  name,
  table: name,
  columns: { account: "text", owner: "text", balance: "double precision", events: "integer" },
  key: "account",
  events: BankAccount.events,
  batchSize: 3,
  maxAttempts: 2,
  on: {
    Opened: (e, env) => ({ key: idOf(env), set: { owner: e.owner, balance: 0 }, increment: { events: 1 } }),
    Deposited: (e, env) => ({ key: idOf(env), increment: { balance: e.amount, events: 1 } }),
    Withdrawn: (e, env) => ({ key: idOf(env), increment: { balance: -e.amount, events: 1 } }),
    AccountClosed: (_, env) => ({ key: idOf(env), delete: true })
  }
})

const Live = layerLocal([balances], { leaseTimeout: "2 seconds", pollInterval: "100 millis" }).pipe(
  Layer.provideMerge(TestDatabase.layerStores())
)

layer(Live, { excludeTestServices: true, timeout: 120_000 })("projection prefetch", (it) => {
  it.effect("an event that does not decode on a page read ahead is parked; every other event is applied once", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const projections = yield* Projections
      const a = fresh("pf")
      const b = fresh("pf")
      // One transaction, so the runner finds the whole log at once and reads ahead from page 1.
      yield* store.append(`account-${a}`, [
        { type: "Opened", data: { owner: "Ada" } },
        { type: "Deposited", data: { amount: 1 } },
        { type: "Deposited", data: { amount: 2 } },
        { type: "Deposited", data: { amount: 4 } },
        { type: "Deposited", data: { amount: "eight" } }, // the 5th event: on page 2, decoded ahead
        { type: "Deposited", data: { amount: 16 } },
        { type: "Withdrawn", data: { amount: 3 } }
      ])
      yield* store.append(`account-${b}`, [
        { type: "Opened", data: { owner: "Bo" } },
        { type: "Deposited", data: { amount: 32 } },
        { type: "Deposited", data: { amount: 64 } }
      ])
      yield* caughtUp(name)

      const parked = yield* projections.deadLetters.list({ projection: name })
      expect(parked).toHaveLength(1)
      expect(parked[0]).toMatchObject({ streamName: `account-${a}`, streamVersion: 5, eventType: "Deposited", status: "parked" })
      const rows = yield* readRows(name)
      expect(rows).toEqual(foldBalances(yield* readLog, new Set([parked[0]!.eventId])))
      expect(rows.find((r) => r.account === a)).toMatchObject({ balance: 20, events: 6 })
      expect(rows.find((r) => r.account === b)).toMatchObject({ balance: 96, events: 3 })
      const [status] = yield* projections.status([name])
      expect(status).toMatchObject({ state: "running", parkedEvents: 1, lagEvents: 0 })
    }))

  it.effect("an event that does not decode on a later page read ahead is parked as well; every other event is applied once", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const projections = yield* Projections
      const c = fresh("pf")
      // Pages of 3 from the caught-up checkpoint: the 8th event is on the third page, read ahead
      // while the first or the second is applied.
      yield* store.append(`account-${c}`, [
        { type: "Opened", data: { owner: "Cy" } },
        ...[1, 2, 4, 8, 16, 32].map((amount) => ({ type: "Deposited", data: { amount } })),
        { type: "Deposited", data: { amount: "sixty-four" } },
        { type: "Deposited", data: { amount: 128 } },
        { type: "Withdrawn", data: { amount: 5 } }
      ])
      yield* caughtUp(name)

      const parked = (yield* projections.deadLetters.list({ projection: name })).filter((d) => d.streamName === `account-${c}`)
      expect(parked).toHaveLength(1)
      expect(parked[0]).toMatchObject({ streamVersion: 8, eventType: "Deposited", status: "parked" })
      const all = yield* projections.deadLetters.list({ projection: name })
      const rows = yield* readRows(name)
      expect(rows).toEqual(foldBalances(yield* readLog, new Set(all.map((d) => d.eventId))))
      expect(rows.find((r) => r.account === c)).toMatchObject({ balance: 186, events: 9 })
    }))
})
