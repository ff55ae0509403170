import { describe, expect, it } from "@effect/vitest"
import * as Aggregate from "@recount/core/Aggregate"
import * as DeciderSpec from "@recount/core/DeciderSpec"
import {
  AccountClosed,
  AccountNotOpen,
  AlreadyOpened,
  BankAccount,
  CancelOrder,
  CloseAccount,
  Deposit,
  Deposited,
  InsufficientFunds,
  InvalidTransition,
  Open,
  Opened,
  Order,
  OrderCancelled,
  OrderPaid,
  OrderPlaced,
  PayOrder,
  PlaceOrder,
  ShipOrder,
  Withdraw,
  Withdrawn,
  WrongAmount
} from "@recount/testing/TestAggregates"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"

const account = DeciderSpec.for(BankAccount)
const order = DeciderSpec.for(Order)
const opened = [new Opened({ owner: "Ada" }), new Deposited({ amount: 100 })]

describe("bank account decider", () => {
  it.effect("opens once", () =>
    Effect.all([
      account.given([]).when(new Open({ owner: "Ada" })).then([new Opened({ owner: "Ada" })]),
      account.given(opened).when(new Open({ owner: "Bob" })).thenFails(new AlreadyOpened())
    ]))

  it.effect("deposits and withdraws while the balance allows", () =>
    Effect.all([
      account.given(opened).when(new Deposit({ amount: 5 })).thenState({ status: "open", owner: "Ada", balance: 105 }),
      account.given(opened).when(new Withdraw({ amount: 100 })).then([new Withdrawn({ amount: 100 })]),
      account.given(opened).when(new Withdraw({ amount: 101 })).thenFails(new InsufficientFunds({ balance: 100, requested: 101 })),
      account.given([]).when(new Deposit({ amount: 1 })).thenFails((e) => e._tag === "AccountNotOpen")
    ]))

  it.effect("closing twice decides nothing the second time", () =>
    Effect.all([
      account.given(opened).when(new CloseAccount()).then([new AccountClosed()]),
      account.given([...opened, new AccountClosed()]).when(new CloseAccount()).then([]),
      account.given([]).when(new CloseAccount()).thenFails(new AccountNotOpen()),
      account.given([...opened, new Withdrawn({ amount: 40 })]).thenState((s) => s.balance === 60)
    ]))

  it.effect("a failed expectation dies with expected and actual in the message", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(account.given(opened).when(new Withdraw({ amount: 1 })).then([new Withdrawn({ amount: 2 })]))
      expect(Exit.isFailure(exit)).toBe(true)
      const message = Exit.isFailure(exit) ? String(Cause.squash(exit.cause)) : ""
      expect(message).toContain("unexpected events")
      expect(message).toContain('"amount": 2')
      expect(message).toContain('"amount": 1')
      const refused = yield* Effect.exit(account.given([]).when(new Deposit({ amount: 1 })).then([]))
      expect(Exit.isFailure(refused) && String(Cause.squash(refused.cause))).toContain("refused")
      const wrongError = yield* Effect.exit(account.given([]).when(new Deposit({ amount: 1 })).thenFails(new AlreadyOpened()))
      expect(Exit.isFailure(wrongError)).toBe(true)
    }))
})

describe("order decider", () => {
  const lines = [{ sku: "tea", quantity: 2, price: 3.5 }, { sku: "mug", quantity: 1, price: 8 }] as const
  const placed = [new OrderPlaced({ customerId: "c1", lines: [...lines], total: 15 })]

  it.effect("places with the computed total, then pays the exact amount, then ships", () =>
    Effect.all([
      order.given([]).when(new PlaceOrder({ customerId: "c1", lines: [...lines] as never })).then(placed),
      order.given(placed).when(new PayOrder({ amount: 15 })).then([new OrderPaid({ amount: 15 })]),
      order.given(placed).when(new PayOrder({ amount: 14 })).thenFails(new WrongAmount({ expected: 15, got: 14 })),
      order.given([...placed, new OrderPaid({ amount: 15 })]).when(new ShipOrder()).thenState((s) => s.status === "shipped")
    ]))

  it.effect("refuses transitions the lifecycle does not allow", () =>
    Effect.all([
      order.given(placed).when(new ShipOrder()).thenFails(new InvalidTransition({ status: "placed", command: "ShipOrder" })),
      order.given([...placed, new OrderCancelled({ reason: "x" })]).when(new CancelOrder({ reason: "again" }))
        .thenFails((e) => e._tag === "InvalidTransition"),
      order.given(placed).when(new PlaceOrder({ customerId: "c2", lines: [...lines] as never })).thenFails((e) => e._tag === "InvalidTransition")
    ]))
})

describe("Aggregate.make", () => {
  it("refuses names that cannot be a stream category and empty command lists", () => {
    const base = { commands: [Open], events: [Opened], initialState: 0, decide: () => Effect.succeed([]), evolve: (s: number) => s }
    expect(() => Aggregate.make({ ...base, name: "bank-account" })).toThrow("stream category")
    expect(() => Aggregate.make({ ...base, name: "" })).toThrow()
    expect(() => Aggregate.make({ ...base, name: "x", commands: [] })).toThrow("no commands")
    expect(() => Aggregate.make({ ...base, name: "x", snapshot: { every: 0, schema: Schema.Number, version: 1 } })).toThrow("snapshot.every")
    expect(Aggregate.make({ ...base, name: "x" }).commandTypes).toEqual(["Open"])
  })

  it("folds events into state", () => {
    expect(Aggregate.fold(BankAccount, [...opened, new Withdrawn({ amount: 30 })])).toEqual({ status: "open", owner: "Ada", balance: 70 })
  })
})
