/**
 * The reference shop: its aggregates, read models and saga, ready for a node.
 */
import * as Duration from "effect/Duration"
import { Inventory } from "./domain/Inventory.js"
import { Order } from "./domain/Order.js"
import { Payment } from "./domain/Payment.js"
import * as Fulfilment from "./Fulfilment.js"
import { OrderSummaries } from "./OrderSummaries.js"

export * from "./domain/Inventory.js"
export * from "./domain/Order.js"
export * from "./domain/Payment.js"
export { OrderAbandoned, OrderFulfilment, startOnOrderPlaced } from "./Fulfilment.js"
export { OrderSummaries } from "./OrderSummaries.js"

export const aggregates = [Order, Inventory, Payment]
export const projections = [OrderSummaries]

/** Everything a node of the shop runs. `paymentTimeout`: how long an invoice may stay unpaid (30 minutes). */
export const app = (options?: { readonly paymentTimeout?: Duration.DurationInput | undefined }) => ({
  aggregates,
  projections,
  workflows: [Fulfilment.layer(options)],
  triggers: [Fulfilment.startOnOrderPlaced]
})
