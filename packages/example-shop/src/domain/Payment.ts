/**
 * The payment of one order (the aggregate id is the order id). A card is captured at once (card
 * `0000` is refused, for demonstrations); an invoice waits until someone confirms the payment, or
 * is voided when it was not paid in time (a voided invoice can no longer be paid).
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
export class VoidInvoice extends Schema.TaggedClass<VoidInvoice>()("VoidInvoice", {}) {}

export class PaymentCaptured extends Schema.TaggedClass<PaymentCaptured>()("PaymentCaptured", { amount: Schema.Number }) {}
export class PaymentInvoiced extends Schema.TaggedClass<PaymentInvoiced>()("PaymentInvoiced", { amount: Schema.Number }) {}
/** An invoice was paid (a card payment is `PaymentCaptured`). */
export class InvoicePaid extends Schema.TaggedClass<InvoicePaid>()("InvoicePaid", { amount: Schema.Number }) {}
export class InvoiceVoided extends Schema.TaggedClass<InvoiceVoided>()("InvoiceVoided", {}) {}

export class PaymentRefused extends Schema.TaggedError<PaymentRefused>()("PaymentRefused", { reason: Schema.String }) {}
export class NothingToConfirm extends Schema.TaggedError<NothingToConfirm>()("NothingToConfirm", {}) {}
/** The invoice was voided (not paid in time): it cannot be paid any more. */
export class InvoiceClosed extends Schema.TaggedError<InvoiceClosed>()("InvoiceClosed", {}) {}
/** Voiding an invoice that was paid meanwhile. */
export class AlreadyPaid extends Schema.TaggedError<AlreadyPaid>()("AlreadyPaid", { amount: Schema.Number }) {}

export const PaymentState = Schema.Struct({ status: Schema.Literal("none", "invoiced", "captured", "voided"), amount: Schema.Number })
export type PaymentState = typeof PaymentState.Type

export const Payment = Aggregate.make({
  name: "payment",
  commands: [RequestPayment, ConfirmPayment, VoidInvoice],
  events: [PaymentCaptured, PaymentInvoiced, InvoicePaid, InvoiceVoided],
  errors: [PaymentRefused, NothingToConfirm, InvoiceClosed, AlreadyPaid],
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
        switch (state.status) {
          case "invoiced":
            return Effect.succeed([new InvoicePaid({ amount: state.amount })])
          case "captured":
            return Effect.succeed([])
          case "voided":
            return Effect.fail(new InvoiceClosed())
          case "none":
            return Effect.fail(new NothingToConfirm())
        }
      // Through the aggregate, so that a payment and the timeout cannot both win.
      case "VoidInvoice":
        switch (state.status) {
          case "invoiced":
            return Effect.succeed([new InvoiceVoided()])
          case "voided":
            return Effect.succeed([])
          case "captured":
            return Effect.fail(new AlreadyPaid({ amount: state.amount }))
          case "none":
            return Effect.fail(new NothingToConfirm())
        }
    }
  },
  evolve: (state, event): PaymentState => {
    switch (event._tag) {
      case "PaymentCaptured":
      case "InvoicePaid":
        return { status: "captured", amount: event.amount }
      case "PaymentInvoiced":
        return { status: "invoiced", amount: event.amount }
      case "InvoiceVoided":
        return { ...state, status: "voided" }
    }
  }
})
