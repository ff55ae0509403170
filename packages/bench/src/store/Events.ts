/**
 * The events both sides append: small account movements, 100–200 bytes of JSON each, built by the
 * same code for both so generating them costs the same on either side.
 *
 * @since 0.1.0
 */

/** Streams are `<category>-<id>`. */
export const category = "account"

/** @since 0.1.0 */
export interface Deposit {
  readonly accountId: string
  readonly amount: number
  readonly currency: string
  readonly note: string
}

/** What an append takes on either side: the type and the data, ids left to the writer. */
export interface NewEvent {
  readonly type: string
  readonly data: Deposit
}

/**
 * `size` consecutive deposits to one account, numbered from `first`.
 *
 * @since 0.1.0
 */
export const deposits = (accountId: string, first: number, size: number): Array<NewEvent> => {
  const events = new Array<NewEvent>(size)
  for (let i = 0; i < size; i++) {
    const n = first + i
    events[i] = {
      type: "MoneyDeposited",
      data: {
        accountId,
        amount: 1000 + (n * 7919) % 100_000,
        currency: "EUR",
        note: `standing order ${n} from savings, reference INV-${(n * 31).toString().padStart(8, "0")}`
      }
    }
  }
  return events
}

let nextId = 0
const run = Math.random().toString(36).slice(2, 8)

/**
 * A stream name no other writer in this process uses; `side` keeps the two sides' streams apart.
 *
 * @since 0.1.0
 */
export const freshStream = (side: "r" | "b"): { readonly streamName: string; readonly accountId: string } => {
  const id = `${run}${side}${nextId++}`
  return { streamName: `${category}-${id}`, accountId: id }
}

/**
 * Folds a stream read into the number of events seen, or NaN once an event is out of order, so
 * a read that skipped or repeated events cannot pass for a fast one.
 *
 * @since 0.1.0
 */
export const countInOrder = (seen: number, event: { readonly streamVersion: number }): number =>
  event.streamVersion === seen + 1 ? seen + 1 : Number.NaN
