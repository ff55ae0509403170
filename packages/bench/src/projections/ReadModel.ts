/**
 * The read model every side builds: one row per account with its balance and event count, the
 * same table and the same SQL on every side, so the sides differ only in how they drive it.
 *
 * Balances are upserted, not inserted: each event touches a row that earlier events wrote, which
 * is what a keyed read model costs in PostgreSQL (a lookup and a new row version per event).
 *
 * @since 0.1.0
 */
import type pg from "pg"

/** The event type all catch-up sides read; `store/Events.ts` builds the data. */
export const eventType = "MoneyDeposited"

/** @since 0.1.0 */
export const createTable = (table: string): string =>
  `CREATE TABLE ${table} (account text PRIMARY KEY, balance bigint NOT NULL, events integer NOT NULL)`

/** One event: `$1` account, `$2` amount. */
export const upsertOne = (table: string): string =>
  `INSERT INTO ${table} AS r (account, balance, events) VALUES ($1, $2, 1) ` +
  "ON CONFLICT (account) DO UPDATE SET balance = r.balance + excluded.balance, events = r.events + 1"

/**
 * A whole batch in one statement: `$1` accounts, `$2` amounts, `$3` event counts, one entry per
 * account. PostgreSQL refuses an upsert that touches a row twice, so the batch is summed per
 * account first (`sumByAccount`).
 */
export const upsertMany = (table: string): string =>
  `INSERT INTO ${table} AS r (account, balance, events) ` +
  "SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[]) " +
  "ON CONFLICT (account) DO UPDATE SET balance = r.balance + excluded.balance, events = r.events + excluded.events"

/** @since 0.1.0 */
export interface Sums {
  readonly accounts: Array<string>
  readonly amounts: Array<number>
  readonly counts: Array<number>
}

/**
 * The parameters of `upsertMany` for a batch, in first-seen order.
 *
 * @since 0.1.0
 */
export const sumByAccount = (deposits: Iterable<{ readonly accountId: string; readonly amount: number }>): Sums => {
  const index = new Map<string, number>()
  const sums: Sums = { accounts: [], amounts: [], counts: [] }
  for (const d of deposits) {
    const i = index.get(d.accountId)
    if (i === undefined) {
      index.set(d.accountId, sums.accounts.length)
      sums.accounts.push(d.accountId)
      sums.amounts.push(d.amount)
      sums.counts.push(1)
    } else {
      sums.amounts[i]! += d.amount
      sums.counts[i]! += 1
    }
  }
  return sums
}

/** What a finished read model must hold. */
export interface Totals {
  readonly accounts: number
  readonly events: number
  readonly balance: number
}

/**
 * Fails when a read model does not hold exactly what the log says, so a side that skipped or
 * repeated events cannot pass for a fast one. Runs after the timed part.
 *
 * @since 0.1.0
 */
export const verify = async (pool: pg.Pool, table: string, expected: Totals, side: string): Promise<void> => {
  const { rows } = await pool.query<{ accounts: string; events: string | null; balance: string | null }>(
    `SELECT count(*)::text AS accounts, sum(events)::text AS events, sum(balance)::text AS balance FROM ${table}`
  )
  const got = { accounts: Number(rows[0]!.accounts), events: Number(rows[0]!.events ?? 0), balance: Number(rows[0]!.balance ?? 0) }
  if (got.accounts !== expected.accounts || got.events !== expected.events || got.balance !== expected.balance) {
    throw new Error(`${side} read model ${table} holds ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`)
  }
}
