/**
 * What the clients ask of the shop: place orders (each starts the fulfilment saga), add stock,
 * reserve and release stock by hand (which the shop may refuse with `OutOfStock`). Seeded, so a
 * run can be repeated.
 *
 * @since 0.1.0
 */
import type * as Aggregate from "@recount/core/Aggregate"
import { AddStock, Inventory, ReleaseStock, ReserveStock } from "@recount/example-shop/domain/Inventory"
import { Order, PlaceOrder } from "@recount/example-shop/domain/Order"
import * as Effect from "effect/Effect"
import type * as Random from "effect/Random"

/** The products every client shares: the hot aggregates. */
export const skus = ["tea", "cake", "jam", "soap"] as const

/** One command for one aggregate. */
export type Op =
  | { readonly aggregate: typeof Order; readonly id: string; readonly command: Aggregate.CommandOf<typeof Order> }
  | { readonly aggregate: typeof Inventory; readonly id: string; readonly command: Aggregate.CommandOf<typeof Inventory> }

/**
 * The operations of one client. `prefix` keeps its order and reservation ids apart from every
 * other client's; reservations it may release are the ones the store acknowledged (`reserved`).
 *
 * @since 0.1.0
 */
export const make = (random: Random.Random, prefix: string) => {
  let orders = 0
  let reservations = 0
  const reserved: Array<{ readonly sku: string; readonly orderId: string }> = []
  const pick = <A>(items: ReadonlyArray<A>) => Effect.map(random.nextIntBetween(0, items.length), (i) => items[i]!)

  const next: Effect.Effect<Op> = Effect.gen(function*() {
    const roll = yield* random.next
    if (roll < 0.5) {
      const count = yield* random.nextIntBetween(1, 3)
      const lines = yield* Effect.forEach(Array.from({ length: count }), () =>
        Effect.all({ sku: pick(skus), quantity: random.nextIntBetween(1, 4), price: random.nextIntBetween(1, 20) }))
      // One order in ten is paid with the card the shop refuses: its saga cancels the order.
      const card = (yield* random.next) < 0.1 ? "0000" : "4242"
      return {
        aggregate: Order,
        id: `${prefix}o${orders++}`,
        command: new PlaceOrder({ customerId: `${prefix}c${yield* random.nextIntBetween(0, 20)}`, lines: [lines[0]!, ...lines.slice(1)], payment: { method: "card", card } })
      }
    }
    if (roll < 0.7) return { aggregate: Inventory, id: yield* pick(skus), command: new AddStock({ quantity: yield* random.nextIntBetween(10, 50) }) }
    if (roll < 0.9 || reserved.length === 0) {
      return { aggregate: Inventory, id: yield* pick(skus), command: new ReserveStock({ orderId: `${prefix}r${reservations++}`, quantity: yield* random.nextIntBetween(1, 6) }) }
    }
    const index = yield* random.nextIntBetween(0, reserved.length)
    const [taken] = reserved.splice(index, 1)
    return { aggregate: Inventory, id: taken!.sku, command: new ReleaseStock({ orderId: taken!.orderId }) }
  })

  /** Tells the workload an operation was acknowledged (a reservation becomes releasable). */
  const acknowledged = (op: Op) => {
    if (op.command._tag === "ReserveStock") reserved.push({ sku: op.id, orderId: op.command.orderId })
  }

  return { next, acknowledged }
}
