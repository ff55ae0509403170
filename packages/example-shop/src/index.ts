/**
 * The reference shop: its aggregates, read models, notification outbox and saga, ready for a node.
 */
import * as Workflows from "@recount/runtime/Workflows"
import * as Duration from "effect/Duration"
import { CustomerHistory } from "./CustomerHistory.js"
import { DailySales } from "./DailySales.js"
import { Customer } from "./domain/Customer.js"
import { Inventory } from "./domain/Inventory.js"
import { Order } from "./domain/Order.js"
import { Payment } from "./domain/Payment.js"
import * as Fulfilment from "./Fulfilment.js"
import { Notifications } from "./Notifications.js"
import { OrderSummaries } from "./OrderSummaries.js"

export { CustomerHistory } from "./CustomerHistory.js"
export { DailySales } from "./DailySales.js"
export * from "./domain/Customer.js"
export * from "./domain/Inventory.js"
export * from "./domain/Order.js"
export * from "./domain/Payment.js"
export { InvoiceSettlement, OrderAbandoned, OrderFulfilment, startOnInvoicePaid, startOnOrderPlaced } from "./Fulfilment.js"
export { Notifications } from "./Notifications.js"
export { OrderSummaries } from "./OrderSummaries.js"

export const aggregates = [Customer, Order, Inventory, Payment]
export const projections = [OrderSummaries, CustomerHistory, DailySales, Notifications]

/** Everything a node of the shop runs. `paymentTimeout`: how long an invoice may stay unpaid (30 minutes). */
export const app = (options?: { readonly paymentTimeout?: Duration.DurationInput | undefined }) => ({
  aggregates,
  projections,
  workflows: [
    Workflows.register(Fulfilment.OrderFulfilment, Fulfilment.layer(options)),
    Workflows.register(Fulfilment.InvoiceSettlement, Fulfilment.settlementLayer)
  ],
  triggers: [Fulfilment.startOnOrderPlaced, Fulfilment.startOnInvoicePaid]
})
