import { expect, layer } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Workflow from "@effect/workflow/Workflow"
import { EventStore } from "@recount/core/EventStore"
import { AccountNotOpen, BankAccount, Deposit, Open, Withdraw } from "@recount/testing/TestAggregates"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { CommandBus } from "../src/CommandBus.js"
import * as EventWorkflow from "../src/EventWorkflow.js"
import { Projections } from "../src/Projections.js"
import * as RecountNode from "../src/RecountNode.js"
import * as Workflows from "../src/Workflows.js"
import { eventually, fresh } from "./support/balances.js"

/** Every opened account gets a bonus, once. */
const WelcomeBonus = EventWorkflow.make({ name: "WelcomeBonus", payload: { accountId: Schema.String } })
const WelcomeBonusLive = WelcomeBonus.toLayer((payload) =>
  EventWorkflow.dispatch(BankAccount, payload.accountId, new Deposit({ amount: 10 }), { step: "bonus" }).pipe(Effect.orDie, Effect.asVoid))
const accountOf = (streamName: string) => streamName.slice("account-".length)
const onOpened = (name?: string) =>
  EventWorkflow.trigger(WelcomeBonus, {
    name,
    events: BankAccount.events,
    eventTypes: ["Opened"],
    payload: (_event, envelope) => ({ accountId: accountOf(envelope.streamName) })
  })

/** Moves money; if the deposit is refused, the withdrawal is refunded. */
const Transfer = Workflow.make({
  name: "Transfer",
  payload: { transferId: Schema.String, from: Schema.String, to: Schema.String, amount: Schema.Number },
  idempotencyKey: (p) => p.transferId,
  error: AccountNotOpen
})
const TransferLive = Transfer.toLayer((p) =>
  Effect.gen(function*() {
    yield* EventWorkflow.dispatch(BankAccount, p.from, new Withdraw({ amount: p.amount }), { step: "withdraw" }).pipe(
      Effect.catchTag("InsufficientFunds", "AlreadyOpened", (e) => Effect.die(e)),
      Transfer.withCompensation(() =>
        EventWorkflow.dispatch(BankAccount, p.from, new Deposit({ amount: p.amount }), { step: "refund" }).pipe(Effect.orDie, Effect.asVoid))
    )
    yield* EventWorkflow.dispatch(BankAccount, p.to, new Deposit({ amount: p.amount }), { step: "deposit" }).pipe(
      Effect.catchTag("InsufficientFunds", "AlreadyOpened", (e) => Effect.die(e))
    )
  }))

const Live = RecountNode.layerSingle({
  aggregates: [BankAccount],
  workflows: [Workflows.register(WelcomeBonus, WelcomeBonusLive), Workflows.register(Transfer, TransferLive)],
  triggers: [onOpened(), onOpened("start-WelcomeBonus-again")]
}).pipe(Layer.provideMerge(TestDatabase.layerStores()))

const depositsOf = (account: string) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.map(
      store.readAll({ categories: ["account"], eventTypes: ["Deposited"], batchSize: 10_000 }),
      (batch) => batch.events.filter((e) => e.streamName === `account-${account}`)
    ))

layer(Live, { excludeTestServices: true, timeout: 180_000 })("workflows triggered by events", (it) => {
  it.effect("one execution per triggering event, with two triggers racing and after a replay from the start of the log", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const accounts = Array.from({ length: 5 }, () => fresh("w"))
      yield* Effect.forEach(accounts, (id) => bus.dispatch(BankAccount, id, new Open({ owner: id })), { concurrency: 5 })
      for (const id of accounts) {
        yield* eventually(depositsOf(id), (d) => d.length >= 1, 60_000)
      }
      // Replay: the trigger's checkpoint goes back to the start; every event is delivered again.
      const sql = yield* PgClient.PgClient
      const projections = yield* Projections
      const [before] = yield* projections.status(["start-WelcomeBonus"])
      yield* sql.unsafe("UPDATE recount_projections SET transaction_id = '0', global_position = 0 WHERE name = 'start-WelcomeBonus'")
      yield* eventually(projections.status(["start-WelcomeBonus"]), ([s]) => s!.lagEvents === 0 && s!.eventsApplied >= before!.eventsApplied + 5n)
      yield* Effect.sleep("1 second")
      for (const id of accounts) {
        const deposits = yield* depositsOf(id)
        expect(deposits.map((d) => d.data)).toEqual([{ amount: 10 }])
        expect((yield* bus.getState(BankAccount, id)).state).toMatchObject({ balance: 10 })
      }
    }))

  it.effect("a failed step runs the compensation of the steps before it", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const from = fresh("from")
      yield* bus.dispatch(BankAccount, from, new Open({ owner: "Ada" }))
      yield* eventually(depositsOf(from), (d) => d.length === 1, 60_000)
      yield* bus.dispatch(BankAccount, from, new Deposit({ amount: 90 }))
      const result = yield* Effect.either(Transfer.execute({ transferId: fresh("t"), from, to: fresh("nobody"), amount: 30 }))
      expect(result).toMatchObject({ _tag: "Left", left: { _tag: "AccountNotOpen" } })
      const store = yield* EventStore
      const events = yield* store.readAll({ categories: ["account"], batchSize: 10_000 })
      const mine = events.events.filter((e) => e.streamName === `account-${from}`).map((e) => [e.type, e.data])
      expect(mine).toEqual([
        ["Opened", { owner: "Ada" }],
        ["Deposited", { amount: 10 }],
        ["Deposited", { amount: 90 }],
        ["Withdrawn", { amount: 30 }],
        ["Deposited", { amount: 30 }]
      ])
      expect((yield* bus.getState(BankAccount, from)).state).toMatchObject({ balance: 100 })
    }))
})
