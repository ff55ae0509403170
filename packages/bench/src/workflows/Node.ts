/**
 * The workflows the suite runs, and one Recount node (`RecountNode.layerSingle`, every shard in
 * this process) hosting them with their triggers, built once per suite as a `ManagedRuntime`.
 *
 * - `BenchBonus`: started by every `Opened` event of a `BankAccount`; one activity, a `Deposit`
 *   into the opened account.
 * - `BenchTransfer`: started by every `TransferRequested` event (a bench event in its own
 *   category, appended straight to the store); three activities, a `Deposit` into each of three
 *   accounts, one after another.
 *
 * @since 0.1.0
 */
import * as EventRegistry from "@recount/core/EventRegistry"
import * as PgPool from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
import * as EventWorkflow from "@recount/runtime/EventWorkflow"
import * as RecountNode from "@recount/runtime/RecountNode"
import * as Workflows from "@recount/runtime/Workflows"
import { BankAccount, Deposit } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/** @since 0.1.0 */
export const bonusTrigger = "start-BenchBonus"
/** @since 0.1.0 */
export const transferTrigger = "start-BenchTransfer"
/** @since 0.1.0 */
export const transferCategory = "benchtransfer"
/** @since 0.1.0 */
export const bonusAmount = 10

/** @since 0.1.0 */
export const BenchBonus = EventWorkflow.make({ name: "BenchBonus", payload: { accountId: Schema.String } })

const BenchBonusLive = BenchBonus.toLayer((p) =>
  EventWorkflow.dispatch(BankAccount, p.accountId, new Deposit({ amount: bonusAmount }), { step: "bonus" }).pipe(Effect.orDie, Effect.asVoid))

/** Asks for a deposit of `amount` into each of three accounts. */
export class TransferRequested extends Schema.TaggedClass<TransferRequested>()("TransferRequested", {
  accounts: Schema.Tuple(Schema.String, Schema.String, Schema.String),
  amount: Schema.Number
}) {}

/** @since 0.1.0 */
export const TransferEvents = EventRegistry.make([TransferRequested])

/** @since 0.1.0 */
export const BenchTransfer = EventWorkflow.make({
  name: "BenchTransfer",
  payload: { accounts: Schema.Tuple(Schema.String, Schema.String, Schema.String), amount: Schema.Number }
})

/** The step names of `BenchTransfer`: the command id of step `s` is `<execution id>/<s>`. */
export const transferSteps = ["deposit-1", "deposit-2", "deposit-3"] as const

const BenchTransferLive = BenchTransfer.toLayer((p) =>
  Effect.forEach(transferSteps, (step, i) =>
    EventWorkflow.dispatch(BankAccount, p.accounts[i]!, new Deposit({ amount: p.amount }), { step }).pipe(Effect.orDie), { discard: true }))

const accountOf = (streamName: string) => streamName.slice(`${BankAccount.name}-`.length)

/** @since 0.1.0 */
export interface Options {
  readonly url: string
  readonly poolSize: number
}

/**
 * The node: aggregates, both workflows and both triggers, the stores (migrated) and the pool;
 * Effect's logs go to stderr, keeping stdout for results.
 *
 * @since 0.1.0
 */
export const layer = (options: Options) =>
  RecountNode.layerSingle({
    aggregates: [BankAccount],
    workflows: [Workflows.register(BenchBonus, BenchBonusLive), Workflows.register(BenchTransfer, BenchTransferLive)],
    triggers: [
      EventWorkflow.trigger(BenchBonus, {
        name: bonusTrigger,
        events: BankAccount.events,
        eventTypes: ["Opened"],
        categories: [BankAccount.name],
        payload: (_event, envelope) => ({ accountId: accountOf(envelope.streamName) })
      }),
      EventWorkflow.trigger(BenchTransfer, {
        name: transferTrigger,
        events: TransferEvents,
        eventTypes: ["TransferRequested"],
        categories: [transferCategory],
        payload: (event) => ({ accounts: event.accounts, amount: event.amount })
      })
    ]
  }).pipe(
    Layer.provideMerge(PgStores.layer),
    Layer.provideMerge(PgPool.layer({ url: Redacted.make(options.url), maxConnections: options.poolSize })),
    Layer.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
  )

/** @since 0.1.0 */
export const make = (options: Options) => ManagedRuntime.make(layer(options))

/** @since 0.1.0 */
export type NodeRuntime = ReturnType<typeof make>
