/**
 * The same bank-account domain written with Emmett: `CommandHandler` on Emmett's PostgreSQL event
 * store, which reads and folds the stream for every command, then appends at the version it read.
 *
 * Emmett's driver layer sets process-wide `pg` type parsers when its store is created (int8 to
 * BigInt, JSON through a reviver). Left alone, they would change what Recount's and the floor's
 * pools parse too, so `make` hands Emmett a pool of its own whose connections use Emmett's
 * parsers, and puts the process-wide ones back.
 *
 * @since 0.1.0
 */
import { CommandHandler, type Event } from "@event-driven-io/emmett"
import { getPostgreSQLEventStore, type PostgresEventStore } from "@event-driven-io/emmett-postgresql"
import pg from "pg"
import type * as Measure from "../Measure.js"

type Opened = Event<"Opened", { owner: string }>
type Deposited = Event<"Deposited", { amount: number }>
type AccountEvent = Opened | Deposited

interface AccountState {
  readonly status: "new" | "open"
  readonly owner: string
  readonly balance: number
}

const handle = CommandHandler<AccountState, AccountEvent>({
  initialState: () => ({ status: "new", owner: "", balance: 0 }),
  evolve: (state, event) => {
    switch (event.type) {
      case "Opened":
        return { status: "open", owner: event.data.owner, balance: 0 }
      case "Deposited":
        return { ...state, balance: state.balance + event.data.amount }
    }
  }
})

/** The same decisions as `BankAccount`'s, throwing where Recount's fail. */
const open = (owner: string) => (state: AccountState): Opened => {
  if (state.status !== "new") throw new Error("AlreadyOpened")
  return { type: "Opened", data: { owner } }
}
const deposit = (amount: number) => (state: AccountState): Deposited => {
  if (state.status !== "open") throw new Error("AccountNotOpen")
  return { type: "Deposited", data: { amount } }
}

const streamOf = (id: string) => `account-${id}`

/** The type ids Emmett's driver layer overrides process-wide. */
const overridden = [20, 114, 3802] as const

/**
 * @since 0.1.0
 */
export interface Emmett {
  readonly store: PostgresEventStore
  readonly close: () => Promise<void>
}

/**
 * Emmett's store on a pool of `poolSize` connections, its `emt_*` tables created.
 *
 * @since 0.1.0
 */
export const make = async (url: string, poolSize: number): Promise<Emmett> => {
  const ours = new Map(overridden.map((oid) => [oid, pg.types.getTypeParser(oid, "text")]))
  const emmettParsers = new Map<number, (value: string) => unknown>()
  const types = {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      emmettParsers.get(oid) ?? pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser
  }
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types })
  pool.on("error", () => {})
  const restore = () => {
    for (const oid of overridden) {
      const current = pg.types.getTypeParser(oid, "text")
      if (current !== ours.get(oid)) {
        emmettParsers.set(oid, current)
        pg.types.setTypeParser(oid, ours.get(oid)!)
      }
    }
  }
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } })
  restore()
  await store.schema.migrate()
  restore()
  return {
    store,
    close: async () => {
      await store.close()
      await pool.end()
    }
  }
}

/**
 * Whether the process-wide parsers are still `pg`'s own (int8 as text): checked before any
 * measurement, so Emmett's settings cannot leak into the other sides unnoticed.
 *
 * @since 0.1.0
 */
export const parsersUntouched = (): boolean => typeof pg.types.getTypeParser(20, "text")("1") === "string"

/**
 * Opens every account and deposits once.
 *
 * @since 0.1.0
 */
export const warm = async (emmett: Emmett, ids: ReadonlyArray<string>, concurrency: number): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!
      await handle(emmett.store, streamOf(id), open(`owner ${id}`))
      await handle(emmett.store, streamOf(id), deposit(1))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

/**
 * `clients` concurrent clients, each handling one deposit at a time round its own accounts.
 *
 * @since 0.1.0
 */
export const commands = (emmett: Emmett, ids: ReadonlyArray<string>, clients: number): Measure.Side => ({
  run: async (deadline) => {
    const client = async (c: number) => {
      const mine = ids.filter((_, i) => i % clients === c)
      let done = 0
      for (let i = 0; ; i++) {
        await handle(emmett.store, streamOf(mine[i % mine.length]!), deposit(1))
        if (performance.now() > deadline) return done
        done++
      }
    }
    const counts = await Promise.all(Array.from({ length: clients }, (_, c) => client(c)))
    return { units: counts.reduce((a, b) => a + b, 0), until: deadline }
  }
})
