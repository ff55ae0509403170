/**
 * Sales analytics per UTC day: orders placed, revenue (payments taken, less refunds of cancelled
 * paid orders, on the day each happened), cancellations and deliveries.
 *
 * `SELECT * FROM daily_sales ORDER BY day DESC`
 */
import * as ReadModelTable from "@recount/runtime/ReadModelTable"
import { Order } from "./domain/Order.js"
import { dayOf } from "./internal/ids.js"

// Every change touches every counter, so a day's row never has a NULL one.
const zero = { orders: 0, revenue: 0, cancellations: 0, deliveries: 0 }

export const DailySales = ReadModelTable.make({
  name: "daily-sales",
  table: "daily_sales",
  columns: { day: "date", orders: "integer", revenue: "numeric", cancellations: "integer", deliveries: "integer" },
  key: "day",
  events: Order.events,
  on: {
    OrderPlaced: (_, env) => ({ key: dayOf(env.recordedAt), increment: { ...zero, orders: 1 } }),
    OrderPaid: (e, env) => ({ key: dayOf(env.recordedAt), increment: { ...zero, revenue: e.amount } }),
    OrderDelivered: (_, env) => ({ key: dayOf(env.recordedAt), increment: { ...zero, deliveries: 1 } }),
    OrderCancelled: (e, env) => ({ key: dayOf(env.recordedAt), increment: { ...zero, cancellations: 1, revenue: -e.refund } })
  }
})
