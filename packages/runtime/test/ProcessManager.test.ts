import { expect, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as EventRegistry from "@recount/core/EventRegistry"
import { EventStore } from "@recount/core/EventStore"
import * as PgPool from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
import { BankAccount, Deposit, Open, Withdraw } from "@recount/testing/TestAggregates"
import * as TestDatabase from "@recount/testing/TestDatabase"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as EffectStream from "effect/Stream"
import { CommandBus } from "../src/CommandBus.js"
import * as ProcessManager from "../src/ProcessManager.js"
import { Projections } from "../src/Projections.js"
import * as RecountNode from "../src/RecountNode.js"
import { eventually, fresh } from "./support/balances.js"

const TransferId = Schema.String.pipe(Schema.pattern(/^tr-/), Schema.brand("TransferId"))
type TransferId = typeof TransferId.Type

class TransferRequested extends Schema.TaggedClass<TransferRequested>()("TransferRequested", {
  transferId: TransferId,
  from: Schema.String,
  to: Schema.String,
  amount: Schema.Number,
  requestedAt: Schema.Date,
  memo: Schema.OptionFromNullOr(Schema.String)
}) {}
class TransferApproved extends Schema.TaggedClass<TransferApproved>()("TransferApproved", { transferId: TransferId, approvedAt: Schema.Date }) {}
const TransferEvents = EventRegistry.make([TransferRequested, TransferApproved])

/** The saga's state: types that JSON alone would lose. */
const TransferState = Schema.Struct({
  id: TransferId,
  from: Schema.String,
  to: Schema.String,
  amount: Schema.Number,
  requestedAt: Schema.Date,
  memo: Schema.Option(Schema.String),
  approvedAfterMillis: Schema.Option(Schema.Number),
  cents: Schema.BigInt,
  stage: Schema.Literal("requested", "moving", "refunding"),
  failure: Schema.Option(Schema.String)
})
type TransferState = typeof TransferState.Type

/** Moves money once approved; a refused deposit is compensated by refunding the withdrawal. */
const Transfers = ProcessManager.make({
  name: "transfers",
  events: TransferEvents,
  state: TransferState,
  correlate: (event) => event.transferId,
  on: {
    TransferRequested: (e, state) =>
      Option.isSome(state) ? undefined : {
        state: {
          id: e.transferId,
          from: e.from,
          to: e.to,
          amount: e.amount,
          requestedAt: e.requestedAt,
          memo: e.memo,
          approvedAfterMillis: Option.none(),
          cents: BigInt(Math.round(e.amount * 100)),
          stage: "requested" as const,
          failure: Option.none()
        }
      },
    // Uses the stored state's Date, Option and bigint: a state that came back as plain JSON would throw here.
    TransferApproved: (e, state) =>
      Option.map(state, (s): NonNullable<ProcessManager.Step<TransferState>> => ({
        state: {
          ...s,
          stage: "moving",
          approvedAfterMillis: Option.some(e.approvedAt.getTime() - s.requestedAt.getTime()),
          memo: Option.map(s.memo, (m) => m.toUpperCase()),
          cents: s.cents + 1n
        },
        commands: [
          ProcessManager.send(BankAccount, s.from, new Withdraw({ amount: s.amount }), { step: "withdraw" }),
          ProcessManager.send(BankAccount, s.to, new Deposit({ amount: s.amount }), { step: "deposit" })
        ]
      })).pipe(Option.getOrUndefined)
  },
  onFailure: (s, failure) => {
    const tag = (failure.error as { _tag?: string })._tag ?? "unknown"
    return failure.step === "deposit"
      ? {
        state: { ...s, stage: "refunding" as const, failure: Option.some(tag) },
        commands: [ProcessManager.send(BankAccount, s.from, new Deposit({ amount: s.amount }), { step: "refund" })],
        complete: true
      }
      : { state: { ...s, failure: Option.some(tag) }, complete: true }
  }
})

/** Deposits the amount at once; its sent commands stay in the outbox for a second only. */
const QuickOutbox = ProcessManager.make({
  name: "quick-outbox",
  events: TransferEvents,
  state: Schema.Struct({ id: TransferId }),
  correlate: (event) => event.transferId,
  on: {
    TransferRequested: (e, state) =>
      Option.isSome(state) ? undefined : {
        state: { id: e.transferId },
        commands: [ProcessManager.send(BankAccount, e.to, new Deposit({ amount: e.amount }), { step: "deposit" })],
        complete: true
      }
  },
  outboxRetention: "1 second"
})

/** A node on the suite's database with its own pool, so that it can stop and another start. */
const startNode = (processManagers: ReadonlyArray<ProcessManager.Any> = [Transfers]) => Effect.gen(function*() {
  const url = yield* TestDatabase.TestDatabaseUrl
  const scope = yield* Scope.make()
  const context = yield* Layer.buildWithScope(
    RecountNode.layerSingle({ aggregates: [BankAccount], processManagers }).pipe(
      Layer.provideMerge(PgStores.layer),
      Layer.provideMerge(PgPool.layer({ url: Redacted.make(url), maxConnections: 10 }))
    ),
    scope
  )
  type Services = CommandBus | EventStore | SqlClient.SqlClient | Projections
  return {
    stop: Scope.close(scope, Exit.void),
    run: <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.provide(effect, context as Context.Context<Services>)
  }
})

const append = (event: TransferRequested | TransferApproved, tenant?: string) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.flatMap(TransferEvents.toEventData(event), (data) => store.append(`transfer-${event.transferId}`, [data], tenant === undefined ? undefined : { tenant })))

const history = (account: string, tenant?: string) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.map(EffectStream.runCollect(store.readStream(`account-${account}`, tenant === undefined ? undefined : { tenant })), (events) =>
      [...events].map((e) => `${e.type} ${(e.data as { amount?: number }).amount ?? ""}`.trim())))

const openWith = (account: string, amount: number) =>
  Effect.flatMap(CommandBus, (bus) =>
    Effect.zipRight(bus.dispatch(BankAccount, account, new Open({ owner: account })), amount > 0 ? bus.dispatch(BankAccount, account, new Deposit({ amount })) : Effect.void))

const transferId = () => TransferId.make(fresh("tr-"))

layer(TestDatabase.layerUrl, { excludeTestServices: true, timeout: 180_000 })("process managers", (it) => {
  it.scoped("saga state round-trips through a restart with its types intact; a replay from the start applies nothing twice", () =>
    Effect.gen(function*() {
      const id = transferId()
      const from = fresh("pa")
      const to = fresh("pb")
      const requestedAt = new Date("2026-01-02T03:04:05.678Z")

      const first = yield* startNode()
      yield* first.run(Effect.gen(function*() {
        yield* openWith(from, 100)
        yield* openWith(to, 0)
        yield* append(new TransferRequested({ transferId: id, from, to, amount: 30, requestedAt, memo: Option.some("rent") }))
        yield* eventually(ProcessManager.get(Transfers, id), Option.isSome)
      }))
      yield* first.stop

      // A new node on the same database: the state comes back decoded, and drives the next event.
      const second = yield* startNode()
      const restored = Option.getOrThrow(yield* second.run(ProcessManager.get(Transfers, id)))
      expect(restored.state.requestedAt).toBeInstanceOf(Date)
      expect(restored.state.requestedAt.toISOString()).toBe("2026-01-02T03:04:05.678Z")
      expect(Option.isOption(restored.state.memo)).toBe(true)
      expect(restored.state.memo).toEqual(Option.some("rent"))
      expect(restored.state.approvedAfterMillis).toEqual(Option.none())
      expect(restored.state.cents).toBe(3000n)
      expect(restored.state.id).toBe(id)
      expect(restored).toMatchObject({ completed: false, commands: [] })

      yield* second.run(Effect.gen(function*() {
        yield* append(new TransferApproved({ transferId: id, approvedAt: new Date(requestedAt.getTime() + 90_000) }))
        const moved = yield* eventually(ProcessManager.get(Transfers, id), (x) =>
          Option.isSome(x) && x.value.commands.length === 2 && x.value.commands.every((c) => c.status === "done"), 60_000)
        const instance = Option.getOrThrow(moved)
        expect(instance.state).toMatchObject({ stage: "moving", cents: 3001n })
        expect(instance.state.approvedAfterMillis).toEqual(Option.some(90_000))
        expect(instance.state.memo).toEqual(Option.some("RENT"))
        expect(instance.commands.map((c) => [c.step, c.commandId])).toEqual([
          ["withdraw", `transfers/${id}/withdraw`],
          ["deposit", `transfers/${id}/deposit`]
        ])
        expect(yield* history(from)).toEqual(["Opened", "Deposited 100", "Withdrawn 30"])
        expect(yield* history(to)).toEqual(["Opened", "Deposited 30"])

        // As if the dispatcher had crashed after sending the withdrawal and before marking it done: sent again, applied once.
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`UPDATE recount_process_commands SET status = 'pending', done_at = NULL WHERE command_id = $1`, [`transfers/${id}/withdraw`])
        yield* eventually(ProcessManager.get(Transfers, id), (x) => Option.isSome(x) && x.value.commands.every((c) => c.status === "done"), 30_000)
        expect(yield* history(from)).toEqual(["Opened", "Deposited 100", "Withdrawn 30"])

        // Replay the whole log into the process manager: its state and commands stay as they were.
        const projections = yield* Projections
        const [before] = yield* projections.status(["process-transfers"])
        yield* sql.unsafe("UPDATE recount_projections SET transaction_id = '0', global_position = 0 WHERE name = 'process-transfers'")
        yield* eventually(projections.status(["process-transfers"]), ([s]) => s!.lagEvents === 0 && s!.eventsApplied >= before!.eventsApplied + 2n)
        yield* Effect.sleep("1 second")
        const after = Option.getOrThrow(yield* ProcessManager.get(Transfers, id))
        expect(after.state).toEqual(instance.state)
        expect(after.commands).toEqual(instance.commands)
        expect(yield* history(from)).toEqual(["Opened", "Deposited 100", "Withdrawn 30"])
        expect(yield* history(to)).toEqual(["Opened", "Deposited 30"])
      }))
      yield* second.stop
    }))

  it.scoped("a failed command cancels the ones after it and runs the compensation onFailure decides", () =>
    Effect.gen(function*() {
      const id = transferId()
      const from = fresh("pc")
      const nobody = fresh("nobody")
      const node = yield* startNode()
      yield* node.run(Effect.gen(function*() {
        yield* openWith(from, 100)
        const at = new Date()
        yield* append(new TransferRequested({ transferId: id, from, to: nobody, amount: 40, requestedAt: at, memo: Option.none() }))
        yield* append(new TransferApproved({ transferId: id, approvedAt: at }))
        const ended = yield* eventually(ProcessManager.get(Transfers, id), (x) =>
          Option.isSome(x) && x.value.commands.length === 3 && x.value.commands.every((c) => c.status !== "pending"), 60_000)
        const instance = Option.getOrThrow(ended)
        expect(instance.completed).toBe(true)
        expect(instance.state.stage).toBe("refunding")
        expect(instance.state.failure).toEqual(Option.some("AccountNotOpen"))
        expect(instance.commands.map((c) => [c.step, c.status, c.error])).toEqual([
          ["withdraw", "done", null],
          ["deposit", "failed", "AccountNotOpen"],
          ["refund", "done", null]
        ])
        expect(yield* history(from)).toEqual(["Opened", "Deposited 100", "Withdrawn 40", "Deposited 40"])
        expect(yield* history(nobody)).toEqual([])
        // A completed instance ignores later events.
        yield* append(new TransferApproved({ transferId: id, approvedAt: new Date() }))
        yield* Effect.sleep("1500 millis")
        expect(Option.getOrThrow(yield* ProcessManager.get(Transfers, id)).commands).toHaveLength(3)
      }))
      yield* node.stop
    }))

  it.scoped("instances are per tenant: the same correlation id in two tenants, commands sent in the events' tenant", () =>
    Effect.gen(function*() {
      const id = transferId()
      const from = fresh("pt")
      const to = fresh("pu")
      const node = yield* startNode()
      yield* node.run(Effect.gen(function*() {
        const bus = yield* CommandBus
        for (const account of [from, to]) yield* bus.dispatch(BankAccount, account, new Open({ owner: account }), { tenant: "acme" })
        yield* bus.dispatch(BankAccount, from, new Deposit({ amount: 50 }), { tenant: "acme" })
        const at = new Date()
        yield* append(new TransferRequested({ transferId: id, from, to, amount: 20, requestedAt: at, memo: Option.none() }), "acme")
        yield* append(new TransferRequested({ transferId: id, from: "x", to: "y", amount: 1, requestedAt: at, memo: Option.some("other tenant") }), "globex")
        yield* append(new TransferApproved({ transferId: id, approvedAt: at }), "acme")
        yield* eventually(ProcessManager.get(Transfers, id, { tenant: "acme" }), (x) =>
          Option.isSome(x) && x.value.commands.length === 2 && x.value.commands.every((c) => c.status === "done"), 60_000)
        expect(yield* history(to, "acme")).toEqual(["Opened", "Deposited 20"])
        expect(yield* history(from, "acme")).toEqual(["Opened", "Deposited 50", "Withdrawn 20"])
        const other = Option.getOrThrow(yield* ProcessManager.get(Transfers, id, { tenant: "globex" }))
        expect(other).toMatchObject({ state: { stage: "requested", from: "x" }, commands: [] })
        expect(yield* ProcessManager.get(Transfers, id)).toEqual(Option.none())
      }))
      yield* node.stop
    }))

  it.scoped("sent commands leave the outbox after its retention", () =>
    Effect.gen(function*() {
      const id = transferId()
      const to = fresh("qo")
      const node = yield* startNode([QuickOutbox])
      yield* node.run(Effect.gen(function*() {
        yield* openWith(to, 0)
        yield* append(new TransferRequested({ transferId: id, from: "nobody", to, amount: 5, requestedAt: new Date(), memo: Option.none() }))
        yield* eventually(ProcessManager.get(QuickOutbox, id), (x) => Option.isSome(x) && x.value.commands.length === 1 && x.value.commands[0]!.status === "done")
        expect(yield* history(to)).toEqual(["Opened", "Deposited 5"])
        // Gone a second or so later; the instance itself stays.
        const cleaned = yield* eventually(ProcessManager.get(QuickOutbox, id), (x) => Option.isSome(x) && x.value.commands.length === 0, 10_000)
        expect(Option.getOrThrow(cleaned)).toMatchObject({ completed: true, state: { id } })
      }))
      yield* node.stop
    }))
})
