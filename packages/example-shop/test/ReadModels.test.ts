import { describe, expect, it, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { DeciderSpec } from "@recount/core"
import { CommandBus } from "@recount/runtime/CommandBus"
import * as Projections from "@recount/runtime/Projections"
import * as RecountNode from "@recount/runtime/RecountNode"
import { eventually } from "@recount/testing/Eventually"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { fresh } from "@recount/testing/TestIds"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import {
  AddressChanged,
  app,
  AddStock,
  ChangeAddress,
  CancelOrder,
  Customer,
  CustomerNotFound,
  CustomerRegistered,
  Inventory,
  MarkDelivered,
  Order,
  OrderCancelled,
  OrderDelivered,
  OrderPaid,
  OrderPlaced,
  OrderShipped,
  PlaceOrder,
  RegisterCustomer
} from "../src/index.js"

const home = { street: "1 Tea Lane", city: "Leeds", postcode: "LS1 1AA", country: "UK" }
const moved = { street: "9 Jam Road", city: "York", postcode: "YO1 7HH", country: "UK" }

describe("the customer and order deciders", () => {
  it("changes the address of registered customers only, and only when it differs", () => {
    DeciderSpec.for(Customer).given([]).when(new ChangeAddress({ address: moved })).thenFails(new CustomerNotFound())
    const registered = new CustomerRegistered({ name: "Ann", email: "ann@example.com", address: home })
    DeciderSpec.for(Customer).given([registered]).when(new ChangeAddress({ address: moved })).then([new AddressChanged({ address: moved })])
    DeciderSpec.for(Customer).given([registered]).when(new ChangeAddress({ address: home })).then([])
  })

  it("delivers shipped orders only; cancelling a paid order owes its total back", () => {
    const placed = new OrderPlaced({ customerId: "c", lines: [{ sku: "tea", quantity: 2, price: 4.5 }], total: 9 })
    DeciderSpec.for(Order).given([placed, new OrderPaid({ amount: 9 }), new OrderShipped()]).when(new MarkDelivered()).then([new OrderDelivered()])
    DeciderSpec.for(Order).given([placed, new OrderPaid({ amount: 9 }), new OrderShipped(), new OrderDelivered()]).when(new MarkDelivered()).then([])
    DeciderSpec.for(Order).given([placed, new OrderPaid({ amount: 9 })]).when(new CancelOrder({ reason: "changed mind" }))
      .then([new OrderCancelled({ reason: "changed mind", refund: 9 })])
    DeciderSpec.for(Order).given([placed]).when(new CancelOrder({ reason: "changed mind" })).then([new OrderCancelled({ reason: "changed mind", refund: 0 })])
  })
})

const Live = RecountNode.layerSingle(app({ paymentTimeout: "1 second" })).pipe(Layer.provideMerge(TestDatabase.layerStores()))

const query = <A extends object>(text: string, params: ReadonlyArray<unknown> = []) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(text, params as Array<never>)).pipe(
    // Until a projection's runner has run its migrations, its view does not exist.
    Effect.catchTag("SqlError", () => Effect.succeed([] as ReadonlyArray<A>))
  )

const orderStatus = (id: string) => Effect.flatMap(CommandBus, (bus) => Effect.map(bus.getState(Order, id), (v) => (v.state as { status: string }).status))

layer(Live, { excludeTestServices: true, timeout: 120_000 })("the shop's read models and outbox", (it) => {
  it.effect("a customer's history keeps the address of each order; the day's sales and the outbox follow the orders", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const customer = fresh("c")
      const sku = fresh("tea")
      const [first, second, refused] = [fresh("o"), fresh("o"), fresh("o")]
      yield* bus.dispatch(Inventory, sku, new AddStock({ quantity: 100 }))
      yield* bus.dispatch(Customer, customer, new RegisterCustomer({ name: "Ann", email: "ann@example.com", address: home }))
      yield* bus.dispatch(Order, first, new PlaceOrder({ customerId: customer, lines: [{ sku, quantity: 2, price: 4.5 }] }))
      yield* eventually(orderStatus(first), (s) => s === "shipped")
      yield* bus.dispatch(Order, first, new MarkDelivered())
      yield* bus.dispatch(Customer, customer, new ChangeAddress({ address: moved }))
      yield* bus.dispatch(Order, second, new PlaceOrder({ customerId: customer, lines: [{ sku, quantity: 1, price: 3 }, { sku, quantity: 1, price: 2 }] }))
      yield* bus.dispatch(Order, refused, new PlaceOrder({ customerId: customer, lines: [{ sku, quantity: 1, price: 7 }], payment: { method: "card", card: "0000" } }))
      yield* eventually(orderStatus(second), (s) => s === "shipped")
      yield* eventually(orderStatus(refused), (s) => s === "cancelled")

      const history = yield* eventually(
        query<{ order_id: string; status: string; total: number; items: number; ship_to: unknown }>(
          "SELECT order_id, status, total::float8 AS total, items, ship_to FROM customer_orders WHERE customer_id = $1 ORDER BY placed_at", [customer]),
        (rows) => rows.length === 3 && rows[1]!.status === "shipped" && rows[2]!.status === "cancelled" && rows[0]!.status === "delivered"
      )
      expect(history).toEqual([
        { order_id: first, status: "delivered", total: 9, items: 2, ship_to: home },
        { order_id: second, status: "shipped", total: 5, items: 2, ship_to: moved },
        { order_id: refused, status: "cancelled", total: 7, items: 1, ship_to: moved }
      ])

      // This suite's database is fresh, and this is the only test that places orders.
      const sales = yield* eventually(
        query<{ orders: number; revenue: number; cancellations: number; deliveries: number }>(
          // Summed over days, in case the test runs across midnight.
          "SELECT sum(orders)::int AS orders, sum(revenue)::float8 AS revenue, sum(cancellations)::int AS cancellations, sum(deliveries)::int AS deliveries FROM daily_sales"),
        (rows) => rows[0]?.cancellations === 1 && rows[0]?.revenue === 14 && rows[0]?.deliveries === 1
      )
      expect(sales).toEqual([{ orders: 3, revenue: 14, cancellations: 1, deliveries: 1 }])

      const outbox = yield* eventually(
        query<{ kind: string; order_id: string | null; recipient: string; body: string }>(
          "SELECT kind, order_id, recipient, body FROM shop_outbox WHERE customer_id = $1 ORDER BY created_at, kind", [customer]),
        (rows) => rows.length === 9
      )
      // The first order's notifications and the move come one after another; the two later
      // orders' sagas run side by side.
      expect(outbox.slice(0, 5).map((r) => [r.kind, r.order_id])).toEqual([
        ["welcome", null],
        ["order-confirmed", first],
        ["order-shipped", first],
        ["order-delivered", first],
        ["address-changed", null]
      ])
      expect(outbox.slice(5).map((r) => `${r.kind} ${r.order_id}`).sort()).toEqual(
        [`order-confirmed ${second}`, `order-confirmed ${refused}`, `order-shipped ${second}`, `order-cancelled ${refused}`].sort())
      expect(outbox.every((r) => r.recipient === "ann@example.com")).toBe(true)
      expect(outbox.find((r) => r.kind === "order-shipped" && r.order_id === second)?.body).toContain("9 Jam Road, YO1 7HH York, UK")
      expect(outbox.find((r) => r.kind === "order-cancelled")?.body).toContain("payment refused")
    }))

  it.effect("the outbox holds one notification per event: a rebuild from the start of the log writes the same rows again", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const customer = fresh("c")
      yield* bus.dispatch(Customer, customer, new RegisterCustomer({ name: "Bo", email: "bo@example.com", address: home }))
      yield* bus.dispatch(Customer, customer, new ChangeAddress({ address: moved }), { consistency: "strong" })
      const rows = "SELECT event_id::text, kind, customer_id, order_id, recipient, subject, body, created_at FROM shop_outbox ORDER BY event_id"
      const before = yield* eventually(query<{ customer_id: string }>(rows), (r) => r.filter((x) => x.customer_id === customer).length === 2)
      const projections = yield* Projections.Projections
      const version = yield* projections.rebuild("notifications")
      yield* eventually(Effect.map(projections.status(), (all) => all.find((s) => s.name === "notifications")), (s) => s?.version === version && s.rebuild === null)
      expect(yield* query(rows)).toEqual(before)
      const [{ n }] = (yield* query<{ n: number }>("SELECT count(*)::int AS n FROM (SELECT DISTINCT event_id FROM shop_outbox) x")) as [{ n: number }]
      expect(n).toBe(before.length)
    }))
})
