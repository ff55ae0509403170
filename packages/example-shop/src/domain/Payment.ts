/**
 * The payment of one order (the aggregate id is the order id). A card is captured at once (card
 * `0000` is refused, for demonstrations); an invoice waits until someone confirms the payment.
 */
import * as Aggregate from "@recount/core/Aggregate"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

export class RequestPayment extends Schema.TaggedClass<RequestPayment>()("RequestPayment", {
  amount: Schema.Number.pipe(Schema.nonNegative()),
  method: Schema.Literal("card", "invoice"),
  card: Schema.optional(Schema.String)
}) {}
export class ConfirmPayment extends Schema.TaggedClass<ConfirmPayment>()("ConfirmPayment", {}) {}

export class PaymentCaptured extends Schema.TaggedClass<PaymentCaptured>()("PaymentCaptured", { amount: Schema.Number }) {}
export class PaymentInvoiced extends Schema.TaggedClass<PaymentInvoiced>()("PaymentInvoiced", { amount: Schema.Number }) {}

export class PaymentRefused extends Schema.TaggedError<PaymentRefused>()("PaymentRefused", { reason: Schema.String }) {}
export class NothingToConfirm extends Schema.TaggedError<NothingToConfirm>()("NothingToConfirm", {}) {}

export const PaymentState = Schema.Struct({ status: Schema.Literal("none", "invoiced", "captured"), amount: Schema.Number })
export type PaymentState = typeof PaymentState.Type

export const Payment = Aggregate.make({
  name: "payment",
  commands: [RequestPayment, ConfirmPayment],
  events: [PaymentCaptured, PaymentInvoiced],
  errors: [PaymentRefused, NothingToConfirm],
  initialState: { status: "none", amount: 0 } as PaymentState,
  decide: (state, command) => {
    switch (command._tag) {
      case "RequestPayment":
        if (state.status !== "none") return Effect.succeed([])
        if (command.method === "invoice") return Effect.succeed([new PaymentInvoiced({ amount: command.amount })])
        return command.card === "0000"
          ? Effect.fail(new PaymentRefused({ reason: "card declined" }))
          : Effect.succeed([new PaymentCaptured({ amount: command.amount })])
      case "ConfirmPayment":
        return state.status === "invoiced"
          ? Effect.succeed([new PaymentCaptured({ amount: state.amount })])
          : state.status === "captured" ? Effect.succeed([]) : Effect.fail(new NothingToConfirm())
    }
  },
  evolve: (_state, event): PaymentState => {
    switch (event._tag) {
      case "PaymentCaptured":
        return { status: "captured", amount: event.amount }
      case "PaymentInvoiced":
        return { status: "invoiced", amount: event.amount }
    }
  }
})
