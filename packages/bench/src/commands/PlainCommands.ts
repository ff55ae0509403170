/**
 * The plain-`pg` floor: what a command costs with no framework at all. Each command is one
 * `recount_append` (the statement Recount sends, with a command id and the correlation and
 * causation ids Recount sends) at the exact version the client tracks itself; no decide, no
 * evolve, no decoding.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { BankAccount } from "@recount/testing/TestAggregates"
import type pg from "pg"
import type * as Measure from "../Measure.js"
import * as PlainPg from "../store/PlainPg.js"

/** The events as Recount's registry encodes them (the tag is the type, the rest is the data). */
const deposited = { type: "Deposited", data: { amount: 1 } }
const opened = (id: string) => ({ type: "Opened", data: { owner: `owner ${id}` } })

const streamOf = (id: string) => `${BankAccount.name}-${id}`

/**
 * The accounts of the floor and the stream version each client knows for them.
 *
 * @since 0.1.0
 */
export interface Accounts {
  readonly ids: ReadonlyArray<string>
  readonly versions: Map<string, number>
}

/**
 * Opens every account and deposits once, like the warm-up of Recount's instances.
 *
 * @since 0.1.0
 */
export const warm = async (pool: pg.Pool, ids: ReadonlyArray<string>, concurrency: number): Promise<Accounts> => {
  const versions = new Map<string, number>()
  let next = 0
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!
      await PlainPg.append(pool, streamOf(id), [opened(id)], 0, randomUUID())
      const appended = await PlainPg.append(pool, streamOf(id), [deposited], 1, randomUUID())
      versions.set(id, appended.streamVersion)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { ids, versions }
}

const owned = (ids: ReadonlyArray<string>, client: number, clients: number): Array<string> =>
  ids.filter((_, i) => i % clients === client)

const command = async (pool: pg.Pool, accounts: Accounts, id: string) => {
  const appended = await PlainPg.append(pool, streamOf(id), [deposited], accounts.versions.get(id)!, randomUUID())
  accounts.versions.set(id, appended.streamVersion)
}

/**
 * `clients` concurrent clients, each appending one deposit at a time round its own accounts.
 *
 * @since 0.1.0
 */
export const commands = (pool: pg.Pool, accounts: Accounts, clients: number): Measure.Side => ({
  run: async (deadline) => {
    const client = async (c: number) => {
      const mine = owned(accounts.ids, c, clients)
      let done = 0
      for (let i = 0; ; i++) {
        await command(pool, accounts, mine[i % mine.length]!)
        if (performance.now() > deadline) return done
        done++
      }
    }
    const counts = await Promise.all(Array.from({ length: clients }, (_, c) => client(c)))
    return { units: counts.reduce((a, b) => a + b, 0), until: deadline }
  }
})

/**
 * One client, one append at a time, pushing each round trip (ms) to `samples`.
 *
 * @since 0.1.0
 */
export const latencies = (pool: pg.Pool, accounts: Accounts, samples: Array<number>): Measure.Side => ({
  run: async (deadline) => {
    let units = 0
    for (let i = 0; performance.now() < deadline; i++) {
      const start = performance.now()
      await command(pool, accounts, accounts.ids[i % accounts.ids.length]!)
      samples.push(performance.now() - start)
      units++
    }
    return { units, until: performance.now() }
  }
})

const snapshotSql = "SELECT version, schema_version, state, taken_at FROM recount_snapshots WHERE tenant = $1 AND stream_name = $2"

type State = typeof BankAccount.initialState

/** The same evolve as Recount's, on the row's type and already-parsed data, with no decoding. */
const evolve = (state: State, event: PlainPg.Event): State =>
  BankAccount.evolve(state, { _tag: event.type, ...(event.data as object) } as Parameters<typeof BankAccount.evolve>[1])

/**
 * Reads the account and folds it with plain `pg`: from the start, or from its snapshot row
 * (used as stored, not decoded) and the events after it. Pages as Recount's `readStream` does.
 *
 * @since 0.1.0
 */
export const wakes = (pool: pg.Pool, id: string, length: number, useSnapshot: boolean, pageSize: number): Measure.Side => ({
  run: async (deadline) => {
    let units = 0
    do {
      let state = BankAccount.initialState
      let from = 1
      if (useSnapshot) {
        const { rows } = await pool.query<{ version: string; state: State }>(snapshotSql, ["default", streamOf(id)])
        const row = rows[0]
        if (row === undefined) throw new Error(`no snapshot of ${streamOf(id)}`)
        state = row.state
        from = Number(row.version) + 1
      }
      let version = from - 1
      state = await PlainPg.foldStream(pool, streamOf(id), pageSize, state, (s, e) => {
        version = e.streamVersion
        return evolve(s, e)
      }, from)
      if (version !== length || state.balance !== length - 1) {
        throw new Error(`the floor woke ${id} at version ${version}, balance ${state.balance}`)
      }
      units++
    } while (performance.now() < deadline)
    return { units, until: performance.now() }
  }
})
