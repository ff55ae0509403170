import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import { CommandBus } from "@recount/runtime/CommandBus"
import * as EventWorkflow from "@recount/runtime/EventWorkflow"
import * as RecountNode from "@recount/runtime/RecountNode"
import { eventually } from "@recount/testing/Eventually"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AddStock, app, ConfirmPayment, Inventory, InvoiceClosed, InvoiceSettlement, MarkDelivered, Order, OrderFulfilment, Payment, PlaceOrder } from "../src/index.js"
import { fresh } from "@recount/testing/TestIds"

const Live = RecountNode.layerSingle(app({ paymentTimeout: "2 seconds" })).pipe(Layer.provideMerge(TestDatabase.layerStores()))


/** The saga's execution for an order. */
const executionOf = (order: string, workflow: typeof OrderFulfilment | typeof InvoiceSettlement = OrderFulfilment) =>
  Effect.map(EventWorkflow.executions(workflow), (xs) => xs.find((x) => (x.payload as { orderId?: string }).orderId === order))
const orderStatus = (id: string) => Effect.flatMap(CommandBus, (bus) => Effect.map(bus.getState(Order, id), (v) => (v.state as { status: string }).status))
const available = (sku: string) => Effect.flatMap(CommandBus, (bus) => Effect.map(bus.getState(Inventory, sku), (v) => (v.state as { available: number }).available))
const typesOf = (stream: string) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.map(store.readAll({ categories: [stream.split("-")[0]!], batchSize: 10_000 }), (b) => b.events.filter((e) => e.streamName === stream).map((e) => e.type)))

layer(Live, { excludeTestServices: true, timeout: 120_000 })("the order-fulfilment saga", (it) => {
  it.effect("reserves stock, takes the card payment and ships", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const sku = fresh("tea")
      const order = fresh("o")
      yield* bus.dispatch(Inventory, sku, new AddStock({ quantity: 10 }))
      yield* bus.dispatch(Order, order, new PlaceOrder({ customerId: "c-1", lines: [{ sku, quantity: 3, price: 2 }] }))
      expect(yield* eventually(orderStatus(order), (s) => s === "shipped")).toBe("shipped")
      expect(yield* available(sku)).toBe(7)
      expect(yield* typesOf(`payment-${order}`)).toEqual(["PaymentCaptured"])
      expect(yield* typesOf(`order-${order}`)).toEqual(["OrderPlaced", "OrderPaid", "OrderShipped"])
      const ended = yield* eventually(executionOf(order), (x) => x?.status === "completed")
      expect(ended).toMatchObject({ status: "completed" })
    }))

  it.effect("a refused payment releases the stock and cancels the order", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const sku = fresh("cake")
      const order = fresh("o")
      yield* bus.dispatch(Inventory, sku, new AddStock({ quantity: 5 }))
      yield* bus.dispatch(Order, order, new PlaceOrder({ customerId: "c-2", lines: [{ sku, quantity: 2, price: 3 }], payment: { method: "card", card: "0000" } }))
      expect(yield* eventually(orderStatus(order), (s) => s === "cancelled")).toBe("cancelled")
      expect(yield* eventually(available(sku), (a) => a === 5)).toBe(5)
      expect(yield* typesOf(`inventory-${sku}`)).toEqual(["StockAdded", "StockReserved", "StockReleased"])
      // The execution ends (failed) once its compensations have run.
      const ended = yield* eventually(executionOf(order), (x) => x?.status === "failed")
      expect(ended).toMatchObject({ status: "failed" })
    }))

  it.effect("an unpaid invoice is cancelled by the durable timer; a paid one ships", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const sku = fresh("jam")
      const unpaid = fresh("o")
      const paid = fresh("o")
      yield* bus.dispatch(Inventory, sku, new AddStock({ quantity: 4 }))
      yield* bus.dispatch(Order, unpaid, new PlaceOrder({ customerId: "c-3", lines: [{ sku, quantity: 1, price: 5 }], payment: { method: "invoice" } }))
      yield* bus.dispatch(Order, paid, new PlaceOrder({ customerId: "c-4", lines: [{ sku, quantity: 2, price: 5 }], payment: { method: "invoice" } }))
      yield* eventually(Effect.flatMap(CommandBus, (b) => b.getState(Payment, paid)), (v) => v.version === 1)
      yield* bus.dispatch(Payment, paid, new ConfirmPayment())
      expect(yield* eventually(orderStatus(unpaid), (s) => s === "cancelled")).toBe("cancelled")
      expect(yield* eventually(orderStatus(paid), (s) => s === "shipped")).toBe("shipped")
      expect(yield* eventually(available(sku), (a) => a === 2)).toBe(2)
      // The payment started the settlement saga, which shipped the order; the unpaid order has none.
      expect(yield* eventually(executionOf(paid, InvoiceSettlement), (x) => x?.status === "completed")).toMatchObject({ status: "completed" })
      expect(yield* executionOf(unpaid, InvoiceSettlement)).toBeUndefined()
      // The timer voided the unpaid invoice: paying it now is refused, not money taken for a cancelled order.
      expect(yield* typesOf(`payment-${unpaid}`)).toEqual(["PaymentInvoiced", "InvoiceVoided"])
      expect(yield* Effect.flip(bus.dispatch(Payment, unpaid, new ConfirmPayment()))).toEqual(new InvoiceClosed())
      // The carrier reports the delivery.
      yield* bus.dispatch(Order, paid, new MarkDelivered())
      expect(yield* orderStatus(paid)).toBe("delivered")
      expect(yield* typesOf(`order-${paid}`)).toEqual(["OrderPlaced", "OrderPaid", "OrderShipped", "OrderDelivered"])
    }))
})
