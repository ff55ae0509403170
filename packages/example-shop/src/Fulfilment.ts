/**
 * The order-fulfilment saga. `OrderPlaced` starts it: it reserves the stock of every line, takes
 * the payment, marks the order paid and ships it (the carrier reports the delivery later, with
 * `MarkDelivered`). A refused payment releases the stock and cancels the order. An order on
 * invoice waits for its payment: `InvoicePaid` starts a second, short saga that marks the order
 * paid and ships it, while the first sleeps on a durable timer (it survives restarts) until the
 * payment timeout, then voids the invoice; if that wins over the payment, it releases the stock
 * and cancels the order, and if the invoice was paid first, it has nothing left to do. Every step is a command with an id derived
 * from the execution, so a step that runs again never applies twice.
 */
import * as DurableClock from "@effect/workflow/DurableClock"
import * as EventWorkflow from "@recount/runtime/EventWorkflow"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Inventory, OutOfStock, ReleaseStock, ReserveStock } from "./domain/Inventory.js"
import { CancelOrder, Line, Order, PaymentMethod, PayOrder, ShipOrder } from "./domain/Order.js"
import { Payment, PaymentRefused, RequestPayment, VoidInvoice } from "./domain/Payment.js"
import { idOf } from "./internal/ids.js"

/** Why the saga gave the order up. */
export class OrderAbandoned extends Schema.TaggedError<OrderAbandoned>()("OrderAbandoned", { orderId: Schema.String, reason: Schema.String }) {}

export const OrderFulfilment = EventWorkflow.make({
  name: "OrderFulfilment",
  payload: { orderId: Schema.String, lines: Schema.Array(Line), total: Schema.Number, payment: PaymentMethod },
  error: OrderAbandoned
})

/** Starts the saga for every placed order, once. */
export const startOnOrderPlaced = EventWorkflow.trigger(OrderFulfilment, {
  events: Order.events,
  eventTypes: ["OrderPlaced"],
  payload: (event, envelope) =>
    event._tag === "OrderPlaced"
      ? { orderId: idOf(envelope.streamName), lines: event.lines, total: event.total, payment: event.payment }
      : { orderId: idOf(envelope.streamName), lines: [], total: 0, payment: { method: "card" as const, card: "" } }
})

// A domain error of a step that cannot happen in this saga's order of steps is a bug: a defect.
const unexpected = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.catchAll(effect, (e) => Effect.die(e))

/**
 * The saga's implementation. `paymentTimeout`: how long an invoice may stay unpaid.
 */
export const layer = (options?: { readonly paymentTimeout?: Duration.DurationInput | undefined }) =>
  OrderFulfilment.toLayer((p) =>
    Effect.gen(function*() {
      const abandon = (reason: string) =>
        Effect.zipRight(
          unexpected(EventWorkflow.dispatch(Order, p.orderId, new CancelOrder({ reason }), { step: "cancel" })),
          Effect.fail(new OrderAbandoned({ orderId: p.orderId, reason }))
        )

      // Reserve every line; each reservation is released if a later step gives the order up.
      for (const line of p.lines) {
        yield* EventWorkflow.dispatch(Inventory, line.sku, new ReserveStock({ orderId: p.orderId, quantity: line.quantity }), { step: `reserve-${line.sku}` }).pipe(
          Effect.catchTag("OutOfStock", (e: OutOfStock) => abandon(`out of stock: ${line.sku} (${e.available} left, ${e.requested} wanted)`)),
          OrderFulfilment.withCompensation(() =>
            unexpected(EventWorkflow.dispatch(Inventory, line.sku, new ReleaseStock({ orderId: p.orderId }), { step: `release-${line.sku}` })).pipe(Effect.asVoid))
        )
      }

      const request = p.payment.method === "card"
        ? new RequestPayment({ amount: p.total, method: "card", card: p.payment.card })
        : new RequestPayment({ amount: p.total, method: "invoice" })
      yield* EventWorkflow.dispatch(Payment, p.orderId, request, { step: "request-payment" }).pipe(
        Effect.catchTag("PaymentRefused", (e: PaymentRefused) => abandon(`payment refused: ${e.reason}`)),
        Effect.catchTags({ NothingToConfirm: Effect.die, InvoiceClosed: Effect.die, AlreadyPaid: Effect.die })
      )

      if (p.payment.method === "card") {
        yield* unexpected(EventWorkflow.dispatch(Order, p.orderId, new PayOrder({ amount: p.total }), { step: "mark-paid" }))
        yield* unexpected(EventWorkflow.dispatch(Order, p.orderId, new ShipOrder(), { step: "ship" }))
        return
      }

      yield* DurableClock.sleep({ name: "payment-timeout", duration: options?.paymentTimeout ?? Duration.minutes(30), inMemoryThreshold: "0 millis" })
      // Voiding goes through the payment, so a payment that lands first wins and one that comes
      // later is refused: the order is never both cancelled and paid.
      const voided = yield* EventWorkflow.dispatch(Payment, p.orderId, new VoidInvoice(), { step: "void-invoice" }).pipe(
        Effect.as(true),
        Effect.catchTag("AlreadyPaid", () => Effect.succeed(false)),
        unexpected
      )
      if (voided) return yield* abandon("not paid in time")
    }))

/** Ships an order once its invoice is paid. */
export const InvoiceSettlement = EventWorkflow.make({ name: "InvoiceSettlement", payload: { orderId: Schema.String, amount: Schema.Number } })

/** Starts the settlement for every paid invoice, once. */
export const startOnInvoicePaid = EventWorkflow.trigger(InvoiceSettlement, {
  events: Payment.events,
  eventTypes: ["InvoicePaid"],
  payload: (event, envelope) => ({ orderId: idOf(envelope.streamName), amount: event._tag === "InvoicePaid" ? event.amount : 0 })
})

/** The settlement's implementation. The order is still placed: its invoice was paid before it could be voided. */
export const settlementLayer = InvoiceSettlement.toLayer((p) =>
  Effect.gen(function*() {
    yield* unexpected(EventWorkflow.dispatch(Order, p.orderId, new PayOrder({ amount: p.amount }), { step: "mark-paid" }))
    yield* unexpected(EventWorkflow.dispatch(Order, p.orderId, new ShipOrder(), { step: "ship" }))
  }))
