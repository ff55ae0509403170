import * as PgClient from "@effect/sql-pg/PgClient"
import * as Checkpoint from "@recount/core/Checkpoint"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import { EventStore } from "@recount/core/EventStore"
import { BankAccount } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import { Projections } from "../../src/Projections.js"
import * as ReadModelTable from "../../src/ReadModelTable.js"

/** A read model of account balances, keyed by account id. */
export const makeBalances = (name = "balances", table = "balances") =>
  ReadModelTable.make({
    name,
    table,
    columns: { account: "text", owner: "text", balance: "double precision", events: "integer" },
    key: "account",
    events: BankAccount.events,
    on: {
      Opened: (e, env) => ({ key: idOf(env), set: { owner: e.owner, balance: 0 }, increment: { events: 1 } }),
      Deposited: (e, env) => ({ key: idOf(env), increment: { balance: e.amount, events: 1 } }),
      Withdrawn: (e, env) => ({ key: idOf(env), increment: { balance: -e.amount, events: 1 } }),
      AccountClosed: (_, env) => ({ key: idOf(env), delete: true })
    }
  })

export interface BalanceRow {
  readonly account: string
  readonly owner: string | null
  readonly balance: number
  readonly events: number
}

export const idOf = (envelope: RecordedEvent) => envelope.streamName.slice("account-".length)

/** Every event of the log, in log order. */
export const readLog = Effect.gen(function*() {
  const store = yield* EventStore
  const events: Array<RecordedEvent> = []
  let after = Checkpoint.start
  while (true) {
    const batch = yield* store.readAll({ after, batchSize: 1000 })
    events.push(...batch.events)
    if (batch.events.length === 0) return events
    after = batch.checkpoint
  }
})

/** The balances read model as a plain fold of the log: what the projection must equal. */
export const foldBalances = (events: ReadonlyArray<RecordedEvent>, skip: ReadonlySet<string> = new Set()) => {
  const rows = new Map<string, BalanceRow>()
  for (const e of events) {
    if (e.category !== "account" || skip.has(e.eventId)) continue
    const account = idOf(e)
    const row = rows.get(account) ?? { account, owner: null, balance: 0, events: 0 }
    const data = e.data as { owner?: string; amount?: number }
    switch (e.type) {
      case "Opened":
        rows.set(account, { ...row, owner: data.owner!, balance: 0, events: row.events + 1 })
        break
      case "Deposited":
        rows.set(account, { ...row, balance: row.balance + data.amount!, events: row.events + 1 })
        break
      case "Withdrawn":
        rows.set(account, { ...row, balance: row.balance - data.amount!, events: row.events + 1 })
        break
      case "AccountClosed":
        rows.delete(account)
        break
    }
  }
  return [...rows.values()].sort((a, b) => a.account < b.account ? -1 : 1)
}

export const readRows = (table = "balances") =>
  Effect.flatMap(PgClient.PgClient, (sql) =>
    sql.unsafe<BalanceRow>(`SELECT account, owner, balance, events FROM ${table} ORDER BY account COLLATE "C"`)).pipe(
      Effect.map((rows) => rows.map((r) => ({ ...r })).sort((a, b) => a.account < b.account ? -1 : 1))
    )

export { eventually } from "@recount/testing/Eventually"
import { eventually } from "@recount/testing/Eventually"
import { fresh } from "@recount/testing/TestIds"

/** Waits until the projection has applied everything in the log and no rebuild is running. */
export const caughtUp = (name = "balances") =>
  eventually(
    Effect.flatMap(Projections, (p) => p.status([name])),
    ([s]) => s !== undefined && s.lagEvents === 0 && s.rebuild === null && s.state === "running"
  )

export { fresh } from "@recount/testing/TestIds"

/** Opens `count` accounts with a few deposits and withdrawals each, through the store. */
export const appendAccounts = (count: number, prefix = fresh("acc")) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
      store.append(`account-${prefix}-${i}`, [
        { type: "Opened", data: { owner: `owner ${i}` } },
        { type: "Deposited", data: { amount: 100 + i } },
        { type: "Withdrawn", data: { amount: 7 } },
        ...(i % 10 === 9 ? [{ type: "AccountClosed", data: {} }] : [])
      ]), { concurrency: 8, discard: true })
    return prefix
  })
