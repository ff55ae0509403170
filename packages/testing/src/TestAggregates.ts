/**
 * Two small aggregates for tests and examples: a bank account and an order. The example app grows
 * them into the reference domain; Recount's own runtime tests use them as they are.
 *
 * @since 0.1.0
 */
import * as Aggregate from "@recount/core/Aggregate"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

const Amount = Schema.Number.pipe(Schema.positive(), Schema.finite())

// Bank account ---------------------------------------------------------------------------------

export class Open extends Schema.TaggedClass<Open>()("Open", { owner: Schema.NonEmptyString }) {}
export class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { amount: Amount }) {}
export class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { amount: Amount }) {}
export class CloseAccount extends Schema.TaggedClass<CloseAccount>()("CloseAccount", {}) {}

export class Opened extends Schema.TaggedClass<Opened>()("Opened", { owner: Schema.String }) {}
export class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
export class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
export class AccountClosed extends Schema.TaggedClass<AccountClosed>()("AccountClosed", {}) {}

export class AccountNotOpen extends Schema.TaggedError<AccountNotOpen>()("AccountNotOpen", {}) {}
export class AlreadyOpened extends Schema.TaggedError<AlreadyOpened>()("AlreadyOpened", {}) {}
export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  balance: Schema.Number,
  requested: Schema.Number
}) {}

export const AccountState = Schema.Struct({
  status: Schema.Literal("new", "open", "closed"),
  owner: Schema.String,
  balance: Schema.Number
})
export type AccountState = typeof AccountState.Type

export const BankAccount = Aggregate.make({
  name: "account",
  commands: [Open, Deposit, Withdraw, CloseAccount],
  events: [Opened, Deposited, Withdrawn, AccountClosed],
  errors: [AccountNotOpen, AlreadyOpened, InsufficientFunds],
  initialState: { status: "new", owner: "", balance: 0 } as AccountState,
  decide: (state, command) => {
    switch (command._tag) {
      case "Open":
        return state.status === "new" ? Effect.succeed([new Opened({ owner: command.owner })]) : Effect.fail(new AlreadyOpened())
      case "Deposit":
        return state.status === "open" ? Effect.succeed([new Deposited({ amount: command.amount })]) : Effect.fail(new AccountNotOpen())
      case "Withdraw":
        if (state.status !== "open") return Effect.fail(new AccountNotOpen())
        return state.balance >= command.amount
          ? Effect.succeed([new Withdrawn({ amount: command.amount })])
          : Effect.fail(new InsufficientFunds({ balance: state.balance, requested: command.amount }))
      case "CloseAccount":
        // Closing twice is a no-op, not an error: a command may decide nothing.
        return state.status === "open" ? Effect.succeed([new AccountClosed()]) : state.status === "closed" ? Effect.succeed([]) : Effect.fail(new AccountNotOpen())
    }
  },
  evolve: (state, event): AccountState => {
    switch (event._tag) {
      case "Opened":
        return { status: "open", owner: event.owner, balance: 0 }
      case "Deposited":
        return { ...state, balance: state.balance + event.amount }
      case "Withdrawn":
        return { ...state, balance: state.balance - event.amount }
      case "AccountClosed":
        return { ...state, status: "closed" }
    }
  },
  snapshot: { every: 100, schema: AccountState, version: 1 }
})

// Order ----------------------------------------------------------------------------------------

export const OrderLine = Schema.Struct({ sku: Schema.NonEmptyString, quantity: Schema.Int.pipe(Schema.positive()), price: Amount })

export class PlaceOrder extends Schema.TaggedClass<PlaceOrder>()("PlaceOrder", {
  customerId: Schema.NonEmptyString,
  lines: Schema.NonEmptyArray(OrderLine)
}) {}
export class PayOrder extends Schema.TaggedClass<PayOrder>()("PayOrder", { amount: Amount }) {}
export class ShipOrder extends Schema.TaggedClass<ShipOrder>()("ShipOrder", {}) {}
export class CancelOrder extends Schema.TaggedClass<CancelOrder>()("CancelOrder", { reason: Schema.String }) {}

export class OrderPlaced extends Schema.TaggedClass<OrderPlaced>()("OrderPlaced", {
  customerId: Schema.String,
  lines: Schema.Array(OrderLine),
  total: Schema.Number
}) {}
export class OrderPaid extends Schema.TaggedClass<OrderPaid>()("OrderPaid", { amount: Schema.Number }) {}
export class OrderShipped extends Schema.TaggedClass<OrderShipped>()("OrderShipped", {}) {}
export class OrderCancelled extends Schema.TaggedClass<OrderCancelled>()("OrderCancelled", { reason: Schema.String }) {}

export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  status: Schema.String,
  command: Schema.String
}) {}
export class WrongAmount extends Schema.TaggedError<WrongAmount>()("WrongAmount", { expected: Schema.Number, got: Schema.Number }) {}

export type OrderStatus = "none" | "placed" | "paid" | "shipped" | "cancelled"
export interface OrderState {
  readonly status: OrderStatus
  readonly customerId: string
  readonly total: number
}

export const Order = Aggregate.make({
  name: "order",
  commands: [PlaceOrder, PayOrder, ShipOrder, CancelOrder],
  events: [OrderPlaced, OrderPaid, OrderShipped, OrderCancelled],
  errors: [InvalidTransition, WrongAmount],
  initialState: { status: "none", customerId: "", total: 0 } as OrderState,
  decide: (state, command) => {
    const refuse = () => Effect.fail(new InvalidTransition({ status: state.status, command: command._tag }))
    switch (command._tag) {
      case "PlaceOrder": {
        if (state.status !== "none") return refuse()
        const total = command.lines.reduce((sum, l) => sum + l.quantity * l.price, 0)
        return Effect.succeed([new OrderPlaced({ customerId: command.customerId, lines: command.lines, total })])
      }
      case "PayOrder":
        if (state.status !== "placed") return refuse()
        return command.amount === state.total
          ? Effect.succeed([new OrderPaid({ amount: command.amount })])
          : Effect.fail(new WrongAmount({ expected: state.total, got: command.amount }))
      case "ShipOrder":
        return state.status === "paid" ? Effect.succeed([new OrderShipped()]) : refuse()
      case "CancelOrder":
        return state.status === "placed" || state.status === "paid"
          ? Effect.succeed([new OrderCancelled({ reason: command.reason })])
          : refuse()
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
      case "OrderCancelled":
        return { ...state, status: "cancelled" }
    }
  }
})
