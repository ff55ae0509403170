/**
 * A per-customer order history: every order of a customer with its total, status and the address
 * the customer had when placing it (addresses change; each order keeps the one it was placed
 * under). Two tables: `customer_orders` for readers, and `customer_addresses`, the customers'
 * current addresses as of the event being applied, which the projection needs for that.
 *
 * `SELECT * FROM customer_orders WHERE customer_id = $1 ORDER BY placed_at DESC`
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as EventRegistry from "@recount/core/EventRegistry"
import * as Projection from "@recount/runtime/Projection"
import * as Effect from "effect/Effect"
import { AddressChanged, CustomerRegistered } from "./domain/Customer.js"
import { OrderCancelled, OrderDelivered, OrderPaid, OrderPlaced, OrderShipped } from "./domain/Order.js"
import { idOf } from "./internal/ids.js"

const events = EventRegistry.make([CustomerRegistered, AddressChanged, OrderPlaced, OrderPaid, OrderShipped, OrderDelivered, OrderCancelled])

export const CustomerHistory = Projection.make({
  name: "customer-history",
  events,
  categories: ["customer", "order"],
  tables: ["customer_orders", "customer_addresses"],
  migrations: {
    "0001_create_tables": (target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.all([
          sql`CREATE TABLE ${sql(target.table("customer_addresses"))} (
            customer_id text PRIMARY KEY, name text NOT NULL, address jsonb NOT NULL, updated_at timestamptz NOT NULL)`,
          sql`CREATE TABLE ${sql(target.table("customer_orders"))} (
            order_id text PRIMARY KEY, customer_id text NOT NULL, placed_at timestamptz NOT NULL, total numeric NOT NULL,
            items int NOT NULL, status text NOT NULL, ship_to jsonb, updated_at timestamptz NOT NULL)`,
          sql`CREATE INDEX ON ${sql(target.table("customer_orders"))} (customer_id, placed_at)`
        ], { discard: true })),
  },
  handle: (event, envelope, target) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => {
      const addresses = sql(target.table("customer_addresses"))
      const orders = sql(target.table("customer_orders"))
      const id = idOf(envelope.streamName)
      const at = envelope.recordedAt
      const status = (value: string) => sql`UPDATE ${orders} SET status = ${value}, updated_at = ${at} WHERE order_id = ${id}`
      switch (event._tag) {
        case "CustomerRegistered":
          return sql`INSERT INTO ${addresses} (customer_id, name, address, updated_at)
            VALUES (${id}, ${event.name}, ${JSON.stringify(event.address)}::jsonb, ${at})
            ON CONFLICT (customer_id) DO UPDATE SET name = excluded.name, address = excluded.address, updated_at = excluded.updated_at`
        case "AddressChanged":
          return sql`UPDATE ${addresses} SET address = ${JSON.stringify(event.address)}::jsonb, updated_at = ${at} WHERE customer_id = ${id}`
        case "OrderPlaced":
          // An order of a customer nobody registered has no address to show.
          return sql`INSERT INTO ${orders} (order_id, customer_id, placed_at, total, items, status, ship_to, updated_at)
            VALUES (${id}, ${event.customerId}, ${at}, ${event.total}, ${event.lines.reduce((n, l) => n + l.quantity, 0)}, 'placed',
              (SELECT address FROM ${addresses} WHERE customer_id = ${event.customerId}), ${at})
            ON CONFLICT (order_id) DO NOTHING`
        case "OrderPaid":
          return status("paid")
        case "OrderShipped":
          return status("shipped")
        case "OrderDelivered":
          return status("delivered")
        case "OrderCancelled":
          return status("cancelled")
      }
    })
})
