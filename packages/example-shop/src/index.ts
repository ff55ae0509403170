/**
 * The reference shop: its aggregates and projections, ready for a node.
 */
import { Order } from "./domain/Order.js"
import { OrderSummaries } from "./OrderSummaries.js"

export * from "./domain/Order.js"
export { OrderSummaries } from "./OrderSummaries.js"

export const aggregates = [Order]
export const projections = [OrderSummaries]
