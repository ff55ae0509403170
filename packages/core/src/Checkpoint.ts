/**
 * A position in the global log. Events are ordered by the transaction that wrote them and then by
 * their global position, because positions are assigned at insert but become visible at commit:
 * a reader that trusted the position alone would skip events that commit late.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 */
export const Checkpoint = Schema.Struct({
  transactionId: Schema.BigInt,
  position: Schema.BigInt
})
/** @since 0.1.0 */
export interface Checkpoint extends Schema.Schema.Type<typeof Checkpoint> {}

/** Before the first event. */
export const start: Checkpoint = { transactionId: 0n, position: 0n }

/** @since 0.1.0 */
export const make = (transactionId: bigint, position: bigint): Checkpoint => ({ transactionId, position })

/** Orders two checkpoints: negative when `a` is before `b`. */
export const compare = (a: Checkpoint, b: Checkpoint): -1 | 0 | 1 =>
  a.transactionId < b.transactionId ? -1 : a.transactionId > b.transactionId ? 1 :
  a.position < b.position ? -1 : a.position > b.position ? 1 : 0

/** The checkpoint just after an event. */
export const of = (event: { readonly transactionId: bigint; readonly globalPosition: bigint }): Checkpoint => ({
  transactionId: event.transactionId,
  position: event.globalPosition
})
