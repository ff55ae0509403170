/**
 * The same bank-account domain written with Emmett: `CommandHandler` on Emmett's PostgreSQL event
 * store, which reads and folds the stream for every command, then appends at the version it read.
 *
 * The store comes from `EmmettStore.make`, which keeps Emmett's process-wide `pg` parsers away
 * from the other sides' pools.
 *
 * @since 0.1.0
 */
import { CommandHandler, type Event } from "@event-driven-io/emmett"
import type { Emmett } from "../EmmettStore.js"
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

export { type Emmett, make, parsersUntouched } from "../EmmettStore.js"

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
