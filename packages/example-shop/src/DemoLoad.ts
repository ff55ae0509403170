/**
 * `npm run demo`'s load: shoppers that talk to a node over the public API only. Each registers as
 * a customer and then, until the time is up, places orders (mostly by card, some with a card that
 * is refused, some on invoice, some with a product that runs out), sometimes moves house first,
 * follows the order through the saga, pays most invoices and reports the delivery of most shipped
 * orders. When the time is up, the orders in flight settle; then the summary: commands, the events
 * the run appended, the projections' lag and how the run's sagas ended.
 *
 * Every id of a run carries the run's id (`demo-<run>`), so runs never meet and the store can be
 * asked what one run did.
 */
import type * as Aggregate from "@recount/core/Aggregate"
import * as RecountClient from "@recount/rpc/RecountClient"
import * as Arr from "effect/Array"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { type Address, ChangeAddress, Customer, RegisterCustomer } from "./domain/Customer.js"
import { AddStock, Inventory } from "./domain/Inventory.js"
import { MarkDelivered, Order, type PaymentMethod, PlaceOrder } from "./domain/Order.js"
import { ConfirmPayment, Payment } from "./domain/Payment.js"
import { CannotReach, KeyRefused, NoAnswer } from "./DemoError.js"
import type { Lag, Summary } from "./DemoSummary.js"
import * as Progress from "./internal/progress.js"

/** Where progress goes; a TTY gets a bar redrawn in place, anything else a line now and then. */
export type Output = Progress.Output

export interface Options {
  readonly url: string
  readonly apiKey: string | Redacted.Redacted<string>
  /** How long new orders are placed. */
  readonly seconds: number
  /** Shoppers at once. */
  readonly concurrency: number
  /** Longest wait for one order's saga to move on (10 seconds). */
  readonly orderTimeout?: Duration.DurationInput | undefined
  /** Ends the load early when it completes (the command line's first Ctrl-C); the last orders still settle. */
  readonly stop?: Effect.Effect<void> | undefined
  /** Progress; nothing when absent. */
  readonly output?: Output | undefined
}


/** Orders one shopper follows at once. */
const openOrders = 4
/** Longest wait for one answer from the node. */
const callTimeout = Duration.seconds(30)
/** How often a shopper looks at an open order; more often mostly loads the node with reads. */
const pollInterval = Duration.millis(300)

const catalogue = [
  { sku: "tea", price: 4.5, stock: 1_000_000 },
  { sku: "jam", price: 3.2, stock: 1_000_000 },
  { sku: "scone", price: 2, stock: 1_000_000 },
  { sku: "teapot", price: 24, stock: 1_000_000 },
  // Runs out during most runs: its orders are cancelled and their other reservations released.
  { sku: "golden-tea", price: 60, stock: 25 }
] as const

const streets = ["1 Tea Lane", "22 Jam Road", "5 Scone Street", "9 Kettle Row", "14 Biscuit Way", "3 Milk Court"]
const cities = [["Leeds", "LS1 1AA"], ["York", "YO1 7HH"], ["Bath", "BA1 1AB"], ["Derby", "DE1 2AA"]] as const
const names = ["Ann", "Bo", "Cai", "Dee", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo"]

const pick = <A>(xs: ReadonlyArray<A>) => Effect.map(Random.nextIntBetween(0, xs.length), (i) => xs[i]!)
const chance = (p: number) => Effect.map(Random.next, (r) => r < p)
const randomAddress: Effect.Effect<Address> = Effect.gen(function*() {
  const [city, postcode] = yield* pick(cities)
  return { street: yield* pick(streets), city, postcode, country: "UK" }
})

// Transient: the node is moving or restarting the aggregate; the same command id makes a retry safe.
const transient = new Set(["CommandTimeout", "AggregateUnavailable"])
const tagOf = (e: unknown) => typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : "Error"


/** Asks the node one question over HTTP, which fails at once when nobody listens (the socket would retry). */
const preflight = (url: string, apiKey: string | Redacted.Redacted<string>) =>
  Effect.flatMap(RecountClient.RecountClient, (client) => client.getState(Order, "demo-preflight")).pipe(
    Effect.provide(RecountClient.layer({ url, apiKey, transport: "http" })),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new CannotReach({ url, detail: "no answer within 10 seconds" }) }),
    Effect.asVoid,
    Effect.catchAll((e): Effect.Effect<void, CannotReach | KeyRefused> =>
      e._tag === "CannotReach" ? Effect.fail(e)
      : e._tag === "Unauthorized" || e._tag === "Forbidden" ? Effect.fail(new KeyRefused({ reason: e.reason }))
      : e._tag === "RpcClientError" ? Effect.fail(new CannotReach({ url, detail: RecountClient.rootCause(e) }))
      // Any other answer means the node is there and takes the key.
      : Effect.void
    )
  )

/**
 * Runs the load against the node at `url` and returns what it did.
 */
export const run = (options: Options): Effect.Effect<Summary, CannotReach | KeyRefused> =>
  Effect.gen(function*() {
    const url = options.url.replace(/\/+$/, "")
    yield* preflight(url, options.apiKey)
    return yield* load({ ...options, url }).pipe(Effect.provide(RecountClient.layer({ url, apiKey: options.apiKey })))
  })

const load = (options: Options) =>
  Effect.gen(function*() {
    const client = yield* RecountClient.RecountClient
    const run = `demo-${(yield* Random.nextIntBetween(0, 36 ** 5)).toString(36).padStart(5, "0")}`
    const orderTimeout = Duration.toMillis(Duration.decode(options.orderTimeout ?? "10 seconds"))
    const counts = {
      ok: 0,
      failed: 0,
      failures: {} as Record<string, number>,
      orders: { placed: 0, card: 0, refusedCard: 0, invoice: 0 },
      customers: { registered: 0, moved: 0 }
    }
    const orders: Array<string> = []
    const customers: Array<string> = []
    let sequence = 0

    /** Dispatches with a command id of the run, retrying transient failures with that id; false when it failed. */
    const command = <A extends Aggregate.Any>(aggregate: A, id: string, cmd: Aggregate.CommandOf<A>) => {
      const commandId = `${run}/${++sequence}`
      return client.dispatch(aggregate, id, cmd, { commandId }).pipe(
        // The socket client waits for a node that went away; the run should not.
        Effect.timeoutFail({ duration: callTimeout, onTimeout: () => new NoAnswer({ seconds: Duration.toSeconds(callTimeout) }) }),
        Effect.retry({ while: (e) => transient.has(tagOf(e)), schedule: Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(5))) }),
        Effect.match({
          onSuccess: () => {
            counts.ok++
            return true
          },
          onFailure: (e) => {
            counts.failed++
            counts.failures[tagOf(e)] = (counts.failures[tagOf(e)] ?? 0) + 1
            return false
          }
        })
      )
    }
    const stateOf = <A extends Aggregate.Any>(aggregate: A, id: string) =>
      client.getState(aggregate, id).pipe(
        Effect.timeout(callTimeout),
        Effect.retry({ times: 2 }),
        Effect.map((view) => ({ version: view.version, status: (view.state as { readonly status?: string }).status ?? "" })),
        Effect.orElseSucceed(() => ({ version: -1, status: "unknown" }))
      )

    /** Follows one order until its saga settles, paying most invoices and reporting most deliveries. */
    const follow = (orderId: string, invoice: boolean) =>
      Effect.gen(function*() {
        const deadline = Date.now() + orderTimeout
        let decided = false
        while (Date.now() < deadline) {
          const { status } = yield* stateOf(Order, orderId)
          if (status === "cancelled" || status === "delivered") return
          if (status === "shipped") {
            if (yield* chance(0.9)) yield* command(Order, orderId, new MarkDelivered())
            return
          }
          if (invoice && !decided && status === "placed" && (yield* stateOf(Payment, orderId)).status === "invoiced") {
            decided = true
            // A quarter of invoices stay unpaid: the saga's timer cancels those orders later.
            if (!(yield* chance(0.75))) return
            yield* command(Payment, orderId, new ConfirmPayment())
          }
          yield* Effect.sleep(pollInterval)
        }
      })

    const shopper = (index: number, loading: () => boolean) =>
      Effect.gen(function*() {
        const customerId = `${run}-c${index}`
        const name = yield* pick(names)
        let address = yield* randomAddress
        if (!(yield* command(Customer, customerId, new RegisterCustomer({ name, email: `${name.toLowerCase()}.${index}@${run}.example`, address })))) return
        customers.push(customerId)
        counts.customers.registered++
        // A shopper has a few orders open at once and follows each on its own.
        const open = yield* Effect.makeSemaphore(openOrders)
        const following: Array<Fiber.RuntimeFiber<void>> = []
        for (let n = 1; loading(); n++) {
          yield* open.take(1)
          if (!loading()) {
            yield* open.release(1)
            break
          }
          if (yield* chance(0.1)) {
            // Always somewhere else: a move to the same address would record nothing.
            let next = yield* randomAddress
            while (next.street === address.street && next.city === address.city) next = yield* randomAddress
            if (yield* command(Customer, customerId, new ChangeAddress({ address: next }))) {
              address = next
              counts.customers.moved++
            }
          }
          const lineCount = yield* Random.nextIntBetween(1, 4)
          const items = new Map<string, { sku: string; quantity: number; price: number }>()
          for (let i = 0; i < lineCount; i++) {
            // The expensive tea is rare in baskets.
            const product = (yield* chance(0.05)) ? catalogue[4] : yield* pick(catalogue.slice(0, 4))
            items.set(product.sku, { sku: `${run}-${product.sku}`, quantity: yield* Random.nextIntBetween(1, 4), price: product.price })
          }
          const roll = yield* Random.next
          const payment: typeof PaymentMethod.Type = roll < 0.1 ? { method: "card", card: "0000" } : roll < 0.3 ? { method: "invoice" } : { method: "card", card: "4242" }
          const orderId = `${run}-o${index}-${n}`
          const lines = [...items.values()]
          if (!Arr.isNonEmptyArray(lines) || !(yield* command(Order, orderId, new PlaceOrder({ customerId, lines, payment })))) {
            yield* open.release(1)
            continue
          }
          orders.push(orderId)
          counts.orders.placed++
          if (payment.method === "invoice") counts.orders.invoice++
          else if (payment.card === "0000") counts.orders.refusedCard++
          else counts.orders.card++
          following.push(yield* Effect.fork(Effect.ensuring(follow(orderId, payment.method === "invoice"), open.release(1))))
          // Browsing before the next order.
          yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 200)))
        }
        yield* Fiber.joinAll(following)
      })

    // The shelves first.
    yield* Effect.forEach(catalogue, (p) => command(Inventory, `${run}-${p.sku}`, new AddStock({ quantity: p.stock })), { discard: true })

    const started = Date.now()
    // The load ends when the time is up, or earlier when `stop` completes.
    let until = started + options.seconds * 1000
    const loading = () => Date.now() < until
    if (options.stop !== undefined) yield* Effect.fork(Effect.andThen(options.stop, Effect.sync(() => until = Math.min(until, Date.now()))))
    const bar = options.output === undefined ? undefined : Progress.make(options.output, options.seconds)
    const report = () => bar?.update((Date.now() - started) / 1000, `orders ${counts.orders.placed}  commands ${counts.ok} ok, ${counts.failed} failed`)
    const ticker = yield* Effect.fork(Effect.repeat(Effect.sync(report), Schedule.spaced(bar?.interval ?? "1 second")))
    yield* Effect.forEach(Array.from({ length: options.concurrency }, (_, i) => i + 1), (i) => shopper(i, loading), {
      concurrency: "unbounded",
      discard: true
    })
    // The shoppers finished their last orders; the load itself ended at `until`. Sagas still at
    // work (a refused card's compensations run after its order is cancelled) finish before anything
    // is counted; waiting ones (an invoice's timer) stay pending.
    const outcomes = yield* sagaOutcomes(client.rpc, new Set(orders)).pipe(
      Effect.repeat(Schedule.spaced("200 millis").pipe(
        Schedule.upTo("10 seconds"),
        Schedule.whileInput((o: Outcomes) => o.running > 0),
        Schedule.passthrough
      )),
      Effect.option
    )
    const settled = Date.now()
    yield* Fiber.interrupt(ticker)
    report()
    bar?.done()

    const [orderStates, paymentVersions, customerVersions, stockVersions] = yield* Effect.all([
      Effect.forEach(orders, (id) => stateOf(Order, id), { concurrency: 16 }),
      Effect.forEach(orders, (id) => stateOf(Payment, id), { concurrency: 16 }),
      Effect.forEach(customers, (id) => stateOf(Customer, id), { concurrency: 16 }),
      Effect.forEach(catalogue, (p) => stateOf(Inventory, `${run}-${p.sku}`), { concurrency: 16 })
    ])
    const orderStatus: Record<string, number> = {}
    for (const s of orderStates) orderStatus[s.status] = (orderStatus[s.status] ?? 0) + 1
    const count = (...statuses: ReadonlyArray<string>) => statuses.reduce((n, s) => n + (orderStatus[s] ?? 0), 0)
    const events = [...orderStates, ...paymentVersions, ...customerVersions, ...stockVersions].reduce((n, s) => n + Math.max(0, s.version), 0)

    const workflows: Summary["workflows"] = Option.match(outcomes, {
      onNone: () => ({ completed: count("shipped", "delivered"), compensated: count("cancelled"), failed: 0, pending: count("placed", "paid"), from: "orders" }),
      onSome: (o) => ({ completed: o.completed, compensated: o.compensated, failed: o.failed, pending: o.running + o.suspended, from: "workflows" })
    })
    const projections = yield* client.rpc.GetProjections({}).pipe(
      Effect.map((all): ReadonlyArray<Lag> => all.map((p) => ({ name: p.name, state: p.state, lagEvents: p.lagEvents, lagSeconds: p.lagSeconds }))),
      Effect.catchAll((e) => Effect.succeed({ unavailable: e._tag === "Forbidden" ? "projection status needs the bootstrap key" : `${tagOf(e)}: ${RecountClient.rootCause(e)}` }))
    )

    return {
      run,
      loadSeconds: (Math.min(until, settled) - started) / 1000,
      settleSeconds: Math.max(0, (settled - Math.min(until, settled)) / 1000),
      concurrency: options.concurrency,
      commands: { ok: counts.ok, failed: counts.failed, failures: counts.failures },
      orders: counts.orders,
      customers: counts.customers,
      events,
      projections,
      workflows,
      orderStatus
    } satisfies Summary
  })

/** `Fulfilment.OrderFulfilment`'s name; by name, so that this client does not load the saga and the runtime. */
const fulfilment = "OrderFulfilment"
/** Most executions one `ListWorkflows` call returns. */
const listLimit = 1000

interface Outcomes {
  readonly completed: number
  readonly compensated: number
  readonly failed: number
  readonly running: number
  readonly suspended: number
}

/**
 * The run's fulfilment executions by state, from the node's own list. Fails (and the caller falls
 * back to the orders) without the bootstrap key, or when a state has more executions than one call
 * lists, since the run's might not all be among them.
 */
const sagaOutcomes = (rpc: RecountClient.RecountClientService["rpc"], orders: ReadonlySet<string>) =>
  Effect.gen(function*(): Effect.fn.Return<Outcomes, unknown> {
    const states = ["running", "suspended", "completed", "failed"] as const
    const [running, suspended, completed, failed] = yield* Effect.forEach(states, (state) =>
      Effect.flatMap(rpc.ListWorkflows({ workflow: fulfilment, state, limit: listLimit }), ({ executions }) =>
        executions.length >= listLimit
          ? Effect.fail("more executions than one list holds")
          : Effect.succeed(executions.filter((x) => orders.has(String((x.payload as { readonly orderId?: unknown }).orderId))))))
    // The saga gives an order up with OrderAbandoned after its compensations; anything else is a bug.
    const abandoned = failed!.filter((x) => x.error?.startsWith("OrderAbandoned") === true).length
    return {
      completed: completed!.length,
      compensated: abandoned,
      failed: failed!.length - abandoned,
      running: running!.length,
      suspended: suspended!.length
    }
  })
