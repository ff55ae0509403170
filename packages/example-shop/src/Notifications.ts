/**
 * Customer notifications, written to an outbox table (`shop_outbox`) for a mailer to send: a
 * welcome, an address change, and an order's confirmation, shipping, delivery and cancellation.
 * One row per notifying event, keyed by the event id: the mailer hands that id to its provider as
 * the idempotency key, and a replay of the log (a crash, a rebuild) can never write a notification
 * twice. Writing the outbox inside the projection's transaction makes it exactly once; only the
 * mailer's delivery is at least once. A rebuild writes a fresh table whose rows are all unsent, so
 * a mailer that sends them again relies on that key. Notifications go to registered customers only.
 *
 * `SELECT * FROM shop_outbox WHERE sent_at IS NULL ORDER BY created_at`
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as EventRegistry from "@recount/core/EventRegistry"
import * as Projection from "@recount/runtime/Projection"
import * as Effect from "effect/Effect"
import { type Address, AddressChanged, CustomerRegistered } from "./domain/Customer.js"
import { OrderCancelled, OrderDelivered, OrderPlaced, OrderShipped } from "./domain/Order.js"
import { idOf } from "./internal/ids.js"

const events = EventRegistry.make([CustomerRegistered, AddressChanged, OrderPlaced, OrderShipped, OrderDelivered, OrderCancelled])

/** What a notification is about; a mailer picks its template by it. */
export type Kind = "welcome" | "address-changed" | "order-confirmed" | "order-shipped" | "order-delivered" | "order-cancelled"

const formatAddress = (a: Address) => `${a.street}, ${a.postcode} ${a.city}, ${a.country}`
const money = (n: number) => n.toFixed(2)

export const Notifications = Projection.make({
  name: "notifications",
  events,
  categories: ["customer", "order"],
  tables: ["shop_outbox", "shop_contacts"],
  migrations: {
    "0001_create_tables": (target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.all([
          sql`CREATE TABLE ${sql(target.table("shop_contacts"))} (
            customer_id text PRIMARY KEY, name text NOT NULL, email text NOT NULL, address text NOT NULL)`,
          sql`CREATE TABLE ${sql(target.table("shop_outbox"))} (
            event_id uuid PRIMARY KEY, kind text NOT NULL, customer_id text NOT NULL, order_id text, recipient text NOT NULL,
            subject text NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL, sent_at timestamptz)`,
          sql`CREATE INDEX ON ${sql(target.table("shop_outbox"))} (order_id)`
        ], { discard: true }))
  },
  handle: (event, envelope, target) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => {
      const contacts = sql(target.table("shop_contacts"))
      const outbox = sql(target.table("shop_outbox"))
      const id = idOf(envelope.streamName)
      // The customer of an order is the one its confirmation went to.
      const customerOfOrder = (orderId: string) =>
        sql`(SELECT customer_id FROM ${outbox} WHERE order_id = ${orderId} AND kind = 'order-confirmed')`
      const notify = (kind: Kind, customer: Statement.Fragment, orderId: string | null, subject: string, body: string) =>
        sql`INSERT INTO ${outbox} (event_id, kind, customer_id, order_id, recipient, subject, body, created_at)
          SELECT ${envelope.eventId}::uuid, ${kind}::text, c.customer_id, ${orderId}::text, c.email, ${subject}::text,
            replace(replace(${body}::text, '{name}', c.name), '{address}', c.address), ${envelope.recordedAt}::timestamptz
          FROM ${contacts} c WHERE c.customer_id = ${customer}
          ON CONFLICT (event_id) DO NOTHING`
      switch (event._tag) {
        case "CustomerRegistered":
          return Effect.zipRight(
            sql`INSERT INTO ${contacts} (customer_id, name, email, address) VALUES (${id}, ${event.name}, ${event.email}, ${formatAddress(event.address)})
              ON CONFLICT (customer_id) DO NOTHING`,
            notify("welcome", sql`${id}`, null, "Welcome to the shop", "Hello {name}, your account is ready.")
          )
        case "AddressChanged":
          return Effect.zipRight(
            sql`UPDATE ${contacts} SET address = ${formatAddress(event.address)} WHERE customer_id = ${id}`,
            notify("address-changed", sql`${id}`, null, "Your address changed", `Hello {name}, we will deliver to ${formatAddress(event.address)} from now on.`)
          )
        case "OrderPlaced":
          return notify("order-confirmed", sql`${event.customerId}`, id, `Order ${id} confirmed`,
            `Hello {name}, thank you for your order of ${money(event.total)}.`)
        case "OrderShipped":
          return notify("order-shipped", customerOfOrder(id), id, `Order ${id} shipped`, "Hello {name}, your order is on its way to {address}.")
        case "OrderDelivered":
          return notify("order-delivered", customerOfOrder(id), id, `Order ${id} delivered`, "Hello {name}, your order was delivered.")
        case "OrderCancelled":
          return notify("order-cancelled", customerOfOrder(id), id, `Order ${id} cancelled`,
            `Hello {name}, your order was cancelled (${event.reason}).${event.refund > 0 ? ` We refund ${money(event.refund)}.` : ""}`)
      }
    })
})
