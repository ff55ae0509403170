/**
 * An order: placed with lines, then paid, shipped and delivered; or cancelled before it ships (a
 * paid order that is cancelled records the refund it is owed).
 */
import * as Aggregate from "@recount/core/Aggregate"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

export const Line = Schema.Struct({
  sku: Schema.NonEmptyString,
  quantity: Schema.Int.pipe(Schema.positive()),
  price: Schema.Number.pipe(Schema.nonNegative(), Schema.finite())
})

/** How the customer pays: a card (captured at once) or an invoice (paid later, or the order is cancelled). */
export const PaymentMethod = Schema.Union(
  Schema.Struct({ method: Schema.Literal("card"), card: Schema.String }),
  Schema.Struct({ method: Schema.Literal("invoice") })
)

export class PlaceOrder extends Schema.TaggedClass<PlaceOrder>()("PlaceOrder", {
  customerId: Schema.NonEmptyString,
  lines: Schema.NonEmptyArray(Line),
  payment: Schema.optionalWith(PaymentMethod, { default: () => ({ method: "card" as const, card: "4242" }) })
}) {}
export class PayOrder extends Schema.TaggedClass<PayOrder>()("PayOrder", { amount: Schema.Number.pipe(Schema.positive()) }) {}
export class ShipOrder extends Schema.TaggedClass<ShipOrder>()("ShipOrder", {}) {}
export class MarkDelivered extends Schema.TaggedClass<MarkDelivered>()("MarkDelivered", {}) {}
export class CancelOrder extends Schema.TaggedClass<CancelOrder>()("CancelOrder", { reason: Schema.String }) {}

export class OrderPlaced extends Schema.TaggedClass<OrderPlaced>()("OrderPlaced", {
  customerId: Schema.String,
  lines: Schema.Array(Line),
  total: Schema.Number,
  payment: Schema.optionalWith(PaymentMethod, { default: () => ({ method: "card" as const, card: "4242" }) })
}) {}
export class OrderPaid extends Schema.TaggedClass<OrderPaid>()("OrderPaid", { amount: Schema.Number }) {}
export class OrderShipped extends Schema.TaggedClass<OrderShipped>()("OrderShipped", {}) {}
export class OrderDelivered extends Schema.TaggedClass<OrderDelivered>()("OrderDelivered", {}) {}
/** `refund`: what was paid and is owed back (0 when the order was not paid yet). */
export class OrderCancelled extends Schema.TaggedClass<OrderCancelled>()("OrderCancelled", {
  reason: Schema.String,
  refund: Schema.optionalWith(Schema.Number, { default: () => 0 })
}) {}

export class OrderNotFound extends Schema.TaggedError<OrderNotFound>()("OrderNotFound", {}) {}
export class OrderAlreadyPlaced extends Schema.TaggedError<OrderAlreadyPlaced>()("OrderAlreadyPlaced", {}) {}
export class WrongOrderStatus extends Schema.TaggedError<WrongOrderStatus>()("WrongOrderStatus", { status: Schema.String, wanted: Schema.String }) {}
export class WrongAmount extends Schema.TaggedError<WrongAmount>()("WrongAmount", { due: Schema.Number, paid: Schema.Number }) {}

export const OrderState = Schema.Struct({
  status: Schema.Literal("none", "placed", "paid", "shipped", "delivered", "cancelled"),
  customerId: Schema.String,
  total: Schema.Number
})
export type OrderState = typeof OrderState.Type

const expect = (state: OrderState, wanted: OrderState["status"]): Effect.Effect<void, OrderNotFound | WrongOrderStatus> =>
  state.status === "none" ? Effect.fail(new OrderNotFound()) : state.status === wanted ? Effect.void : Effect.fail(new WrongOrderStatus({ status: state.status, wanted }))

export const Order = Aggregate.make({
  name: "order",
  commands: [PlaceOrder, PayOrder, ShipOrder, MarkDelivered, CancelOrder],
  events: [OrderPlaced, OrderPaid, OrderShipped, OrderDelivered, OrderCancelled],
  errors: [OrderNotFound, OrderAlreadyPlaced, WrongOrderStatus, WrongAmount],
  initialState: { status: "none", customerId: "", total: 0 } as OrderState,
  decide: (state, command) => {
    switch (command._tag) {
      case "PlaceOrder":
        return state.status !== "none"
          ? Effect.fail(new OrderAlreadyPlaced())
          : Effect.succeed([new OrderPlaced({
            customerId: command.customerId,
            lines: command.lines,
            total: command.lines.reduce((t, l) => t + l.quantity * l.price, 0),
            payment: command.payment
          })])
      case "PayOrder":
        return Effect.zipRight(
          expect(state, "placed"),
          command.amount === state.total ? Effect.succeed([new OrderPaid({ amount: command.amount })]) : Effect.fail(new WrongAmount({ due: state.total, paid: command.amount }))
        )
      case "ShipOrder":
        return Effect.as(expect(state, "paid"), [new OrderShipped()])
      case "MarkDelivered":
        // A second delivery report for a delivered order is the same report.
        return state.status === "delivered" ? Effect.succeed([]) : Effect.as(expect(state, "shipped"), [new OrderDelivered()])
      case "CancelOrder":
        if (state.status === "cancelled") return Effect.succeed([])
        return state.status === "placed" || state.status === "paid"
          ? Effect.succeed([new OrderCancelled({ reason: command.reason, refund: state.status === "paid" ? state.total : 0 })])
          : Effect.fail(new WrongOrderStatus({ status: state.status, wanted: "placed or paid" }))
    }
  },
  evolve: (state, event): OrderState => {
    switch (event._tag) {
      case "OrderPlaced":
        return { status: "placed", customerId: event.customerId, total: event.total }
      case "OrderPaid":
        return { ...state, status: "paid" }
      case "OrderShipped":
        return { ...state, status: "shipped" }
      case "OrderDelivered":
        return { ...state, status: "delivered" }
      case "OrderCancelled":
        return { ...state, status: "cancelled" }
    }
  },
  snapshot: { every: 50, schema: OrderState, version: 1 }
})
