import { expect, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as DurableClock from "@effect/workflow/DurableClock"
import * as Workflow from "@effect/workflow/Workflow"
import { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { EventStore } from "@recount/core/EventStore"
import * as PgPool from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
import { BankAccount, Deposit, Open, Withdraw } from "@recount/testing/TestAggregates"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { CommandBus } from "../src/CommandBus.js"
import * as EventWorkflow from "../src/EventWorkflow.js"
import * as RecountNode from "../src/RecountNode.js"
import * as Workflows from "../src/Workflows.js"
import { eventually, fresh } from "./support/balances.js"

/** Pays a bonus after a durable wait. */
const DelayedBonus = Workflow.make({ name: "DelayedBonus", payload: { accountId: Schema.String }, idempotencyKey: (p) => p.accountId })
const DelayedBonusLive = DelayedBonus.toLayer((p) =>
  Effect.gen(function*() {
    yield* DurableClock.sleep({ name: "cooling-off", duration: "3 seconds", inMemoryThreshold: "0 millis" })
    yield* EventWorkflow.dispatch(BankAccount, p.accountId, new Deposit({ amount: 5 }), { step: "bonus" }).pipe(Effect.orDie)
  }))

/** Holds money for an hour, refunding it if cancelled. */
const Hold = Workflow.make({ name: "Hold", payload: { accountId: Schema.String }, idempotencyKey: (p) => p.accountId })
const HoldLive = Hold.toLayer((p) =>
  Effect.gen(function*() {
    yield* EventWorkflow.dispatch(BankAccount, p.accountId, new Withdraw({ amount: 10 }), { step: "hold" }).pipe(
      Effect.orDie,
      Hold.withCompensation(() => EventWorkflow.dispatch(BankAccount, p.accountId, new Deposit({ amount: 10 }), { step: "release" }).pipe(Effect.orDie, Effect.asVoid))
    )
    yield* DurableClock.sleep({ name: "an-hour", duration: "1 hour", inMemoryThreshold: "0 millis" })
  }))

/** A node on the suite's database with its own pool, so that it can stop and start again. */
const startNode = Effect.gen(function*() {
  const url = yield* TestDatabase.TestDatabaseUrl
  const scope = yield* Scope.make()
  const context = yield* Layer.buildWithScope(
    RecountNode.layerSingle({ aggregates: [BankAccount], workflows: [Workflows.register(DelayedBonus, DelayedBonusLive), Workflows.register(Hold, HoldLive)] }).pipe(
      Layer.provideMerge(PgStores.layer),
      Layer.provideMerge(PgPool.layer({ url: Redacted.make(url), maxConnections: 10 }))
    ),
    scope
  )
  return { scope, run: <A, E>(effect: Effect.Effect<A, E, CommandBus | EventStore | WorkflowEngine | SqlClient.SqlClient>) =>
      Effect.provide(effect, context as Context.Context<CommandBus | EventStore | WorkflowEngine | SqlClient.SqlClient>) }
})

const eventsOf = (account: string) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.map(store.readAll({ categories: ["account"], batchSize: 10_000 }), (b) =>
      b.events.filter((e) => e.streamName === `account-${account}`).map((e) => [e.type, e.data])))

layer(TestDatabase.layerUrl, { excludeTestServices: true, timeout: 180_000 })("durable workflows", (it) => {
  it.scoped("a durable timer fires once after a restart that happened before its deadline", () =>
    Effect.gen(function*() {
      const id = fresh("timer")
      const first = yield* startNode
      yield* first.run(Effect.gen(function*() {
        const bus = yield* CommandBus
        yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
        const executionId = yield* DelayedBonus.execute({ accountId: id }, { discard: true })
        yield* eventually(EventWorkflow.executions(DelayedBonus), (xs) => xs.some((x) => x.executionId === executionId && x.status === "suspended"))
      }))
      yield* Scope.close(first.scope, Exit.void)
      yield* Effect.sleep("4 seconds") // past the deadline, with no node running
      const second = yield* startNode
      yield* second.run(eventually(eventsOf(id), (events) => events.length === 2, 60_000))
      yield* Effect.sleep("2 seconds")
      expect(yield* second.run(eventsOf(id))).toEqual([["Opened", { owner: "Ada" }], ["Deposited", { amount: 5 }]])
      const [execution] = yield* second.run(EventWorkflow.executions(DelayedBonus))
      expect(execution).toMatchObject({ status: "completed", payload: { accountId: id } })
      yield* Scope.close(second.scope, Exit.void)
    }))

  it.scoped("cancelling an execution runs its compensations", () =>
    Effect.gen(function*() {
      const id = fresh("hold")
      const node = yield* startNode
      yield* node.run(Effect.gen(function*() {
        const bus = yield* CommandBus
        yield* bus.dispatch(BankAccount, id, new Open({ owner: "Bo" }))
        yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 50 }))
        const executionId = yield* Hold.execute({ accountId: id }, { discard: true })
        yield* eventually(EventWorkflow.executions(Hold), (xs) => xs.some((x) => x.executionId === executionId && x.status === "suspended"))
        yield* EventWorkflow.cancel(Hold, executionId)
        yield* eventually(eventsOf(id), (events) => events.length === 4, 30_000)
        expect(yield* eventsOf(id)).toEqual([
          ["Opened", { owner: "Bo" }],
          ["Deposited", { amount: 50 }],
          ["Withdrawn", { amount: 10 }],
          ["Deposited", { amount: 10 }]
        ])
        const [execution] = yield* EventWorkflow.executions(Hold)
        expect(execution!.status).not.toBe("suspended")
      }))
      yield* Scope.close(node.scope, Exit.void)
    }))
})
