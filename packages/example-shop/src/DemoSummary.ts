/**
 * What one `npm run demo` run did, and how it reads for people.
 */

/** A projection's lag when the run ended. */
export interface Lag {
  readonly name: string
  readonly state: string
  readonly lagEvents: number
  readonly lagSeconds: number
}

/** What one run did. */
export interface Summary {
  /** In every id of the run: `demo-<run>`. */
  readonly run: string
  readonly loadSeconds: number
  readonly settleSeconds: number
  readonly concurrency: number
  readonly commands: { readonly ok: number; readonly failed: number; readonly failures: Readonly<Record<string, number>> }
  readonly orders: { readonly placed: number; readonly card: number; readonly refusedCard: number; readonly invoice: number }
  /** Customers registered and address changes. */
  readonly customers: { readonly registered: number; readonly moved: number }
  /** Events in the run's streams at the end (the saga's included). */
  readonly events: number
  /** Every projection's lag, or why it could not be read (a key that is not the bootstrap key). */
  readonly projections: ReadonlyArray<Lag> | { readonly unavailable: string }
  /**
   * How the run's fulfilment sagas stand: `completed`, `compensated` (it gave the order up and
   * undid its steps), `pending` (running or waiting: an invoice's saga sleeps until the payment
   * timeout even when the invoice was paid and the settlement saga shipped the order). `from`:
   * `workflows` when the node listed the executions (the bootstrap key); else `orders`, from the
   * orders' status (shipped or delivered, cancelled, still placed or paid).
   */
  readonly workflows: {
    readonly completed: number
    readonly compensated: number
    /** Failed for another reason than giving the order up: a bug (0 when counted from the orders). */
    readonly failed: number
    readonly pending: number
    readonly from: "workflows" | "orders"
  }
  /** The run's orders by status. */
  readonly orderStatus: Readonly<Record<string, number>>
}

/** The summary for people. */
export const format = (s: Summary): string => {
  const per = (n: number) => s.loadSeconds > 0 ? ` (${(n / s.loadSeconds).toFixed(1)}/s)` : ""
  const failures = Object.entries(s.commands.failures).map(([tag, n]) => `${n} ${tag}`).join(", ")
  const lag = "unavailable" in s.projections
    ? `unavailable (${s.projections.unavailable})`
    : s.projections.map((p) => `${p.name} ${p.lagEvents} events / ${p.lagSeconds.toFixed(1)} s${p.state === "running" ? "" : ` (${p.state})`}`).join("\n               ")
  const failed = s.workflows.failed > 0 ? `, ${s.workflows.failed} failed` : ""
  const source = s.workflows.from === "orders" ? "(from the orders' status: listing executions needs the bootstrap key)" : "(order fulfilment)"
  return [
    `Demo ${s.run}: ${s.loadSeconds.toFixed(1)} s of orders from ${s.concurrency} shoppers, then ${s.settleSeconds.toFixed(1)} s for the last ones to settle`,
    `  commands     ${s.commands.ok} ok${per(s.commands.ok)}, ${s.commands.failed} failed${failures === "" ? "" : ` (${failures})`}`,
    `  customers    ${s.customers.registered} registered, ${s.customers.moved} moved house`,
    `  orders       ${s.orders.placed} placed${per(s.orders.placed)}: ${s.orders.card} by card, ${s.orders.refusedCard} with a refused card, ${s.orders.invoice} on invoice`,
    `  events       ${s.events} appended${per(s.events)}`,
    `  workflows    ${s.workflows.completed} completed, ${s.workflows.compensated} compensated, ${s.workflows.pending} pending${failed} ${source}`,
    `  orders now   ${Object.entries(s.orderStatus).sort().map(([status, n]) => `${n} ${status}`).join(", ") || "none"}`,
    `  projections  ${lag}`
  ].join("\n")
}
