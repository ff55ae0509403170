/**
 * A read model of orders: one row per order with its customer, total, status and, for a
 * cancelled order, why.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as ReadModelTable from "@recount/runtime/ReadModelTable"
import * as Effect from "effect/Effect"
import { Order } from "./domain/Order.js"
import { idOf } from "./internal/ids.js"

export const OrderSummaries = ReadModelTable.make({
  name: "order-summaries",
  table: "order_summaries",
  columns: { order_id: "text", customer_id: "text", total: "numeric", status: "text", updated_at: "timestamptz", cancel_reason: "text" },
  key: "order_id",
  events: Order.events,
  // Tables created before the column existed get it here; new versions already have it.
  migrations: {
    "0002_cancel_reason": (target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql`ALTER TABLE ${sql(target.table("order_summaries"))} ADD COLUMN IF NOT EXISTS cancel_reason text`)
  },
  on: {
    OrderPlaced: (e, env) => ({ key: idOf(env.streamName), set: { customer_id: e.customerId, total: e.total, status: "placed", updated_at: env.recordedAt } }),
    OrderPaid: (_, env) => ({ key: idOf(env.streamName), set: { status: "paid", updated_at: env.recordedAt } }),
    OrderShipped: (_, env) => ({ key: idOf(env.streamName), set: { status: "shipped", updated_at: env.recordedAt } }),
    OrderDelivered: (_, env) => ({ key: idOf(env.streamName), set: { status: "delivered", updated_at: env.recordedAt } }),
    OrderCancelled: (e, env) => ({ key: idOf(env.streamName), set: { status: "cancelled", cancel_reason: e.reason, updated_at: env.recordedAt } })
  }
})
