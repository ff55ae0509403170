/**
 * The checkers: they judge the recorded history against the final database.
 *
 * - **lost**: an acknowledged command whose events are not stored exactly as acknowledged (by
 *   command id, event id, stream and version).
 * - **duplicates**: an event id stored twice, a command whose stored events are more than it
 *   acknowledged, a saga step applied twice (an order paid, shipped or cancelled twice, a payment
 *   captured twice, stock reserved or released twice for one order).
 * - **gaps**: a stream whose versions are not 1..n, or whose stream row says otherwise.
 * - **versionConflicts**: two events at one version of a stream.
 * - **failedButApplied**: a command refused outright (no unknown attempt before) that is recorded.
 * - **unexplainedEvents**: an event no recorded command produced.
 * - projection drift is judged by `ProjectionDrift` (rebuild and compare).
 * - **workflows**: every `OrderPlaced` started exactly one fulfilment (unless its trigger
 *   dead-lettered it), and every fulfilment finished with its order shipped or cancelled.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type Pg from "pg"
import type * as History from "./History.js"

/** @since 0.1.0 */
export interface Checks {
  readonly acknowledged: number
  readonly lost: number
  readonly duplicates: number
  readonly gaps: number
  readonly versionConflicts: number
  readonly failedButApplied: number
  readonly unexplainedEvents: number
  readonly deadLetters: number
  readonly events: number
  readonly streams: number
  readonly workflows: { readonly started: number; readonly missing: number; readonly duplicated: number; readonly unfinished: number }
  /** A few concrete violations, as evidence. */
  readonly examples: ReadonlyArray<string>
}

interface StoredEvent {
  readonly stream_name: string
  readonly stream_version: number
  readonly event_id: string
  readonly event_type: string
  readonly data: Record<string, unknown>
  readonly recorded_at: Date
}

const load = (pool: Pg.Pool) =>
  Effect.tryPromise({
    try: async () => {
      const [events, streams, commands, deadLetters, runs] = await Promise.all([
        pool.query<StoredEvent>(
          `SELECT stream_name, stream_version::int AS stream_version, event_id::text AS event_id, event_type, data, recorded_at
           FROM recount_events WHERE tenant = 'default' ORDER BY transaction_id, global_position`
        ),
        pool.query<{ stream_name: string; version: number }>("SELECT stream_name, version::int AS version FROM recount_streams WHERE tenant = 'default'"),
        pool.query<{ command_id: string; stream_name: string; first_version: number; last_version: number }>(
          "SELECT command_id, stream_name, first_version::int AS first_version, last_version::int AS last_version FROM recount_commands WHERE tenant = 'default'"
        ),
        pool.query<{ projection: string; event_id: string; status: string }>("SELECT projection, event_id::text AS event_id, status FROM recount_dead_letters"),
        pool.query<{ payload: string; done: boolean }>(
          `SELECT m.payload, EXISTS (SELECT 1 FROM cluster_replies r WHERE r.request_id = m.id AND r.kind = 0) AS done
           FROM cluster_messages m WHERE m.entity_type = 'Workflow/OrderFulfilment' AND m.tag = 'run' AND m.kind = 0`
        )
      ])
      return { events: events.rows, streams: streams.rows, commands: commands.rows, deadLetters: deadLetters.rows, runs: runs.rows }
    },
    catch: (e) => e as Error
  })

/**
 * Runs every checker once on the history's operations and the database as it is now.
 *
 * @since 0.1.0
 */
export const check = (pool: Pg.Pool, operations: ReadonlyArray<History.Operation>) =>
  Effect.map(load(pool), (db): Checks => {
    const examples: Array<string> = []
    const note = (line: string) => {
      if (examples.length < 20) examples.push(line)
    }
    const byId = new Map<string, Array<StoredEvent>>()
    const byStream = new Map<string, Array<StoredEvent>>()
    for (const e of db.events) {
      byId.set(e.event_id, [...(byId.get(e.event_id) ?? []), e])
      const list = byStream.get(e.stream_name) ?? []
      list.push(e)
      byStream.set(e.stream_name, list)
    }
    const commands = new Map(db.commands.map((c) => [c.command_id, c]))

    // Acknowledged commands: stored exactly as acknowledged.
    let acknowledged = 0
    let lost = 0
    let duplicates = 0
    let failedButApplied = 0
    for (const op of operations) {
      if (op.outcome === "fail" && !op.hadUnknown && commands.has(op.commandId)) {
        failedButApplied++
        note(`refused but applied: ${op.commandId} (${op.error})`)
      }
      if (op.ack === undefined) continue
      acknowledged++
      if (op.ack.events.length === 0) continue
      const stream = `${op.aggregate}-${op.aggregateId}`
      const command = commands.get(op.commandId)
      const missing = op.ack.events.filter((a) => {
        const stored = byId.get(a.eventId)
        return stored === undefined || !stored.some((s) => s.stream_name === stream && s.stream_version === a.streamVersion && s.event_type === a.type)
      })
      if (command === undefined || missing.length > 0) {
        lost++
        note(`acknowledged but lost: ${op.commandId} on ${stream} (${command === undefined ? "no command record" : `${missing.length} events missing`})`)
      } else if (command.last_version - command.first_version + 1 > op.ack.events.length) {
        duplicates++
        note(`more events stored than acknowledged: ${op.commandId}`)
      }
    }

    // Streams: 1..n, one event per version, agreeing with the stream row.
    let gaps = 0
    let versionConflicts = 0
    const streamRows = new Map(db.streams.map((s) => [s.stream_name, s.version]))
    for (const [stream, events] of byStream) {
      const versions = events.map((e) => e.stream_version).sort((a, b) => a - b)
      const distinct = new Set(versions)
      if (distinct.size < versions.length) {
        versionConflicts += versions.length - distinct.size
        note(`two events at one version: ${stream}`)
      }
      const n = distinct.size
      if (versions[0] !== 1 || Math.max(...versions) !== n || streamRows.get(stream) !== n) {
        gaps++
        note(`gap: ${stream} has versions ${versions.slice(0, 10).join(",")}${versions.length > 10 ? ",..." : ""}, stream row ${streamRows.get(stream)}`)
      }
    }
    for (const [id, copies] of byId) {
      if (copies.length > 1) {
        duplicates += copies.length - 1
        note(`event id stored ${copies.length} times: ${id}`)
      }
    }

    // Every event comes from a recorded command.
    const covered = new Set<string>()
    for (const c of db.commands) for (let v = c.first_version; v <= c.last_version; v++) covered.add(`${c.stream_name}#${v}`)
    const unexplained = db.events.filter((e) => !covered.has(`${e.stream_name}#${e.stream_version}`))
    for (const e of unexplained.slice(0, 3)) note(`event of no recorded command: ${e.stream_name}@${e.stream_version}`)

    // Saga steps at most once.
    const once = new Map<string, number>()
    const count = (key: string) => once.set(key, (once.get(key) ?? 0) + 1)
    for (const e of db.events) {
      if (e.stream_name.startsWith("order-") || e.stream_name.startsWith("payment-")) count(`${e.stream_name}/${e.event_type}`)
      if (e.event_type === "StockReserved" || e.event_type === "StockReleased") count(`${e.stream_name}/${e.event_type}/${String(e.data.orderId)}`)
    }
    for (const [key, n] of once) {
      if (n > 1) {
        duplicates += n - 1
        note(`applied ${n} times: ${key}`)
      }
    }

    // Where every order stands, from its events.
    const statusOf: Record<string, string> = { OrderPlaced: "placed", OrderPaid: "paid", OrderShipped: "shipped", OrderDelivered: "delivered", OrderCancelled: "cancelled" }
    const orders = new Map<string, string>()
    for (const e of db.events) {
      const status = statusOf[e.event_type]
      if (e.stream_name.startsWith("order-") && status !== undefined) orders.set(e.stream_name, status)
    }

    // One fulfilment per OrderPlaced, each finished.
    const triggerParked = new Set(db.deadLetters.filter((d) => d.projection === "start-OrderFulfilment" && d.status !== "applied").map((d) => d.event_id))
    const placed = db.events.filter((e) => e.event_type === "OrderPlaced")
    const runs = new Map<string, number>()
    let unfinished = 0
    for (const run of db.runs) {
      const payload = JSON.parse(run.payload) as { triggeringEventId?: string; orderId?: string }
      runs.set(String(payload.triggeringEventId), (runs.get(String(payload.triggeringEventId)) ?? 0) + 1)
      if (!run.done) {
        unfinished++
        note(`fulfilment not finished: order ${payload.orderId}`)
      }
    }
    let missing = 0
    let duplicated = 0
    for (const e of placed) {
      const n = runs.get(e.event_id) ?? 0
      if (n === 0 && !triggerParked.has(e.event_id)) {
        missing++
        note(`no fulfilment for ${e.stream_name}`)
      }
      if (n > 1) duplicated += n - 1
    }
    const placedIds = new Set(placed.map((e) => e.event_id))
    for (const [id, n] of runs) {
      if (!placedIds.has(id)) {
        duplicated += n
        note(`fulfilment for no OrderPlaced: ${id}`)
      }
    }
    for (const [stream, status] of orders) {
      if (status === "placed" || status === "paid") {
        unfinished++
        note(`${stream} still ${status}`)
      }
    }

    return {
      acknowledged,
      lost,
      duplicates,
      gaps,
      versionConflicts,
      failedButApplied,
      unexplainedEvents: unexplained.length,
      deadLetters: db.deadLetters.length,
      events: db.events.length,
      streams: byStream.size,
      workflows: { started: db.runs.length, missing, duplicated, unfinished },
      examples
    }
  })

/** True when nothing that may still settle (the read model, the sagas) is behind. */
export const settled = (checks: Checks) => checks.workflows.missing === 0 && checks.workflows.unfinished === 0

/** True when every safety checker passed. */
export const passed = (checks: Checks) =>
  checks.lost === 0 && checks.duplicates === 0 && checks.gaps === 0 && checks.versionConflicts === 0 &&
  checks.failedButApplied === 0 && checks.unexplainedEvents === 0 && settled(checks)
