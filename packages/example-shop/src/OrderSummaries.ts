/**
 * A read model of orders: one row per order with its customer, total and status.
 */
import * as ReadModelTable from "@recount/runtime/ReadModelTable"
import { Order } from "./domain/Order.js"

const orderId = (streamName: string) => streamName.slice("order-".length)

export const OrderSummaries = ReadModelTable.make({
  name: "order-summaries",
  table: "order_summaries",
  columns: { order_id: "text", customer_id: "text", total: "numeric", status: "text", updated_at: "timestamptz" },
  key: "order_id",
  events: Order.events,
  on: {
    OrderPlaced: (e, env) => ({ key: orderId(env.streamName), set: { customer_id: e.customerId, total: e.total, status: "placed", updated_at: env.recordedAt } }),
    OrderPaid: (_, env) => ({ key: orderId(env.streamName), set: { status: "paid", updated_at: env.recordedAt } }),
    OrderShipped: (_, env) => ({ key: orderId(env.streamName), set: { status: "shipped", updated_at: env.recordedAt } }),
    OrderCancelled: (_, env) => ({ key: orderId(env.streamName), set: { status: "cancelled", updated_at: env.recordedAt } })
  }
})
