import { expect, layer } from "@effect/vitest"
import * as DurableClock from "@effect/workflow/DurableClock"
import * as EventRegistry from "@recount/core/EventRegistry"
import { EventStore } from "@recount/core/EventStore"
import { AccountNotOpen, BankAccount, Deposit, Open, Withdraw } from "@recount/testing/TestAggregates"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as EffectStream from "effect/Stream"
import { CommandBus } from "../src/CommandBus.js"
import * as EventWorkflow from "../src/EventWorkflow.js"
import * as RecountNode from "../src/RecountNode.js"
import * as Workflows from "../src/Workflows.js"
import { eventually, fresh } from "./support/balances.js"

class BonusRequested extends Schema.TaggedClass<BonusRequested>()("BonusRequested", { accountId: Schema.String, hold: Schema.Boolean }) {}
const BonusEvents = EventRegistry.make([BonusRequested])

/** Pays a bonus into an account (which fails while it is not open); with `hold`, waits an hour, taking the bonus back if cancelled. */
const OpsBonus = EventWorkflow.make({ name: "OpsBonus", payload: { accountId: Schema.String, hold: Schema.Boolean }, error: AccountNotOpen })
const OpsBonusLive = OpsBonus.toLayer((p) =>
  Effect.gen(function*() {
    yield* EventWorkflow.dispatch(BankAccount, p.accountId, new Deposit({ amount: 5 }), { step: "bonus" }).pipe(
      Effect.catchTag("InsufficientFunds", "AlreadyOpened", (e) => Effect.die(e)),
      OpsBonus.withCompensation(() =>
        EventWorkflow.dispatch(BankAccount, p.accountId, new Withdraw({ amount: 5 }), { step: "take-back" }).pipe(Effect.orDie, Effect.asVoid))
    )
    if (p.hold) yield* DurableClock.sleep({ name: "hold", duration: "1 hour", inMemoryThreshold: "0 millis" })
  }))

const Live = RecountNode.layerSingle({
  aggregates: [BankAccount],
  workflows: [Workflows.register(OpsBonus, OpsBonusLive)],
  triggers: [EventWorkflow.trigger(OpsBonus, { events: BonusEvents, payload: (e) => ({ accountId: e.accountId, hold: e.hold }) })]
}).pipe(Layer.provideMerge(TestDatabase.layerStores()))

const request = (accountId: string, hold: boolean) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.flatMap(BonusEvents.toEventData(new BonusRequested({ accountId, hold })), (event) => store.append(`opsbonus-${accountId}`, [event])))

const executionFor = (accountId: string) =>
  Effect.flatMap(Workflows.Workflows, (w) =>
    Effect.map(w.executions({ workflow: "OpsBonus" }), (all) => all.filter((x) => (x.payload as { accountId: string }).accountId === accountId)))

const amounts = (accountId: string) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.map(EffectStream.runCollect(store.readStream(`account-${accountId}`)), (events) => [...events].map((e) => `${e.type} ${(e.data as { amount?: number }).amount ?? ""}`.trim())))

layer(Live, { excludeTestServices: true, timeout: 180_000 })("operating workflows by name", (it) => {
  it.effect("lists executions by state with their triggering event; retries a failed one as its next attempt, once", () =>
    Effect.gen(function*() {
      const workflows = yield* Workflows.Workflows
      const bus = yield* CommandBus
      expect(workflows.names).toEqual(["OpsBonus"])
      const id = fresh("ops")
      const appended = yield* request(id, false)
      // The account is not open: the bonus fails.
      const [failed] = yield* eventually(executionFor(id), (xs) => xs.length === 1 && xs[0]!.state === "failed", 60_000)
      expect(failed).toMatchObject({
        workflow: "OpsBonus",
        state: "failed",
        attempt: 1,
        error: "AccountNotOpen",
        triggeringEvent: { type: "BonusRequested", streamName: `opsbonus-${id}`, streamVersion: 1 }
      })
      expect(failed!.triggeringEventId).toBe(failed!.triggeringEvent!.eventId)
      expect(failed!.startedAt).toBeInstanceOf(Date)
      expect(appended.streamVersion).toBe(1)
      const listedFailed = yield* workflows.executions({ workflow: "OpsBonus", state: "failed" })
      expect(listedFailed.map((x) => x.executionId)).toContain(failed!.executionId)
      expect((yield* workflows.executions({ state: "completed" })).map((x) => x.executionId)).not.toContain(failed!.executionId)

      // Open the account, retry: the next attempt is a new execution of the same event, and completes.
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      const retried = yield* workflows.retry("OpsBonus", failed!.executionId)
      expect(retried).toMatchObject({ attempt: 2, triggeringEventId: failed!.triggeringEventId })
      expect(retried.executionId).not.toBe(failed!.executionId)
      const again = yield* workflows.retry("OpsBonus", failed!.executionId)
      expect(again.executionId).toBe(retried.executionId)
      const done = yield* eventually(workflows.execution("OpsBonus", retried.executionId), (x) => x.state === "completed", 60_000)
      expect(done.state).toBe("completed")
      expect(yield* amounts(id)).toEqual(["Opened", "Deposited 5"])
      expect((yield* workflows.execution("OpsBonus", failed!.executionId)).state).toBe("failed")

      const notFailed = yield* Effect.flip(workflows.retry("OpsBonus", retried.executionId))
      expect(notFailed).toMatchObject({ _tag: "InvalidExecutionState", state: "completed" })
      expect(notFailed.message).toBe(`execution ${retried.executionId} of OpsBonus is completed: only a failed execution can be retried`)
    }))

  it.effect("cancels a suspended execution (its compensation runs); refuses unknown names, ids and ended executions", () =>
    Effect.gen(function*() {
      const workflows = yield* Workflows.Workflows
      const bus = yield* CommandBus
      const id = fresh("hold")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Bo" }))
      yield* request(id, true)
      const [held] = yield* eventually(executionFor(id), (xs) => xs[0]?.state === "suspended", 60_000)
      expect((yield* workflows.executions({ state: "suspended" })).map((x) => x.executionId)).toContain(held!.executionId)
      const cancelled = yield* workflows.cancel("OpsBonus", held!.executionId)
      expect(cancelled.executionId).toBe(held!.executionId)
      yield* eventually(amounts(id), (xs) => xs.length === 3, 30_000)
      expect(yield* amounts(id)).toEqual(["Opened", "Deposited 5", "Withdrawn 5"])
      const ended = yield* eventually(workflows.execution("OpsBonus", held!.executionId), (x) => x.state !== "suspended" && x.state !== "running")
      const notAgain = yield* Effect.flip(workflows.cancel("OpsBonus", held!.executionId))
      expect(notAgain).toMatchObject({ _tag: "InvalidExecutionState", state: ended.state })

      const unknown = yield* Effect.flip(workflows.executions({ workflow: "Nope" }))
      expect(unknown.message).toBe("unknown workflow Nope; known: OpsBonus")
      const missing = yield* Effect.flip(workflows.cancel("OpsBonus", "no-such-execution"))
      expect(missing.message).toBe("workflow OpsBonus has no execution no-such-execution")
    }))
})
