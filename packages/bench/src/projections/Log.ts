/**
 * The log the catch-up sides replay: deposits to `accounts` accounts, written in passes of
 * `perAppend` events per account, so consecutive appends go to different accounts (as a log of
 * many users' commands does) and each pass adds `accounts * perAppend` events.
 *
 * Recount's log is written with the statement Recount's store sends (`store/PlainPg.ts`); Emmett's
 * with Emmett's own `appendToStream`, so each projector reads a log its own store wrote.
 *
 * @since 0.1.0
 */
import pg from "pg"
import * as Events from "../store/Events.js"
import * as PlainPg from "../store/PlainPg.js"
import type { Totals } from "./ReadModel.js"

/** @since 0.1.0 */
export interface Account {
  readonly streamName: string
  readonly accountId: string
}

/** @since 0.1.0 */
export const perAppend = 10

/** @since 0.1.0 */
export const makeAccounts = (n: number): ReadonlyArray<Account> => Array.from({ length: n }, () => Events.freshStream("b"))

/** Appends `events` to `account`, whose stream is at `version` (the events before this pass). */
export type Write = (account: Account, events: ReadonlyArray<Events.NewEvent>, version: number) => Promise<void>

/**
 * Writes passes `from` (inclusive) to `to` (exclusive) with `workers` concurrent writers, each
 * owning a share of the accounts so their versions never race. Returns what the passes add to a
 * read model of balances.
 *
 * @since 0.1.0
 */
export const writePasses = async (
  accounts: ReadonlyArray<Account>,
  from: number,
  to: number,
  workers: ReadonlyArray<Write>
): Promise<Totals> => {
  let events = 0
  let balance = 0
  for (let pass = from; pass < to; pass++) {
    await Promise.all(workers.map(async (write, w) => {
      for (let i = w; i < accounts.length; i += workers.length) {
        const account = accounts[i]!
        const batch = Events.deposits(account.accountId, pass * perAppend, perAppend)
        await write(account, batch, pass * perAppend)
        events += batch.length
        for (const e of batch) balance += e.data.amount
      }
    }))
  }
  return { accounts: from === 0 ? accounts.length : 0, events, balance }
}

/** @since 0.1.0 */
export const add = (a: Totals, b: Totals): Totals => ({
  accounts: Math.max(a.accounts, b.accounts),
  events: a.events + b.events,
  balance: a.balance + b.balance
})

/**
 * Writers to Recount's log, each on a connection of its own that is closed afterwards, so no
 * measured pool inherits plans made while the table was small (see `store/Seed.ts`).
 *
 * @since 0.1.0
 */
export const recountWriters = async (url: string, n: number): Promise<{ readonly writers: ReadonlyArray<Write>; readonly close: () => Promise<void> }> => {
  const clients = await Promise.all(Array.from({ length: n }, async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query("SET plan_cache_mode = force_custom_plan")
    return client
  }))
  return {
    writers: clients.map((client): Write => async (account, events, version) => {
      await PlainPg.append(client, account.streamName, events, version)
    }),
    close: async () => {
      await Promise.all(clients.map((c) => c.end()))
    }
  }
}
