/**
 * Workflow throughput from a backlog of triggering events: how fast one node starts and completes
 * the `BenchBonus` workflows of `n` `Opened` events (one activity each: a `Deposit`).
 *
 * The method, chosen so the appends are not counted and the trigger starts at once:
 *
 * 1. the trigger (`start-BenchBonus`) is paused, and its runner is seen to be paused;
 * 2. `n - 1` `Opened` events of `n` new accounts are appended straight through the node's
 *    `EventStore` (8 writers), untimed; the trigger's checkpoint is checked not to have moved;
 * 3. the clock starts, the trigger is resumed and the `n`-th `Opened` event is appended: its append
 *    wakes the trigger in this process at once (otherwise it would notice the resume only at its
 *    next poll, up to 500 ms later). The timed span includes that one append;
 * 4. a poll every 25 ms (one statement on the cluster's tables) records when the `n`-th execution
 *    exists (its `run` message is stored: started) and when every one has a stored final reply
 *    (completed).
 *
 * Afterwards, untimed: exactly one `Deposited` event per account, the trigger caught up with no
 * error or parked event, and every reply a success.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { EventStore } from "@recount/core/EventStore"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import { Projections } from "@recount/runtime/Projections"
import * as Effect from "effect/Effect"
import * as Node from "./Node.js"

/** @since 0.1.0 */
export interface Round {
  readonly workflows: number
  /** From the resume to the `n`-th stored `run` message. */
  readonly startSeconds: number
  /** From the resume to the `n`-th stored final reply. */
  readonly completeSeconds: number
  /** This process's CPU per workflow over the timed span (µs). */
  readonly cpuMicros: number
}

const entityType = `Workflow/${Node.BenchBonus.name}`

const counts = (sql: SqlClient.SqlClient, since: string) =>
  Effect.map(
    sql.unsafe<{ started: number; completed: number }>(
      `SELECT count(*)::int AS started,
              count(*) FILTER (WHERE EXISTS (SELECT 1 FROM cluster_replies r WHERE r.request_id = m.id AND r.kind = 0))::int AS completed
       FROM cluster_messages m WHERE m.entity_type = $1 AND m.tag = 'run' AND m.kind = 0 AND m.rowid > $2`,
      [entityType, since]
    ),
    ([row]) => row ?? { started: 0, completed: 0 }
  )

const waitForState = (state: string) =>
  Effect.gen(function*() {
    const projections = yield* Projections
    for (let i = 0; i < 600; i++) {
      const [s] = yield* projections.status([Node.bonusTrigger])
      if (s?.state === state) return s
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.dieMessage(`trigger ${Node.bonusTrigger} did not reach state ${state} in 30 s`)
  })

/**
 * One round of `n` workflows on accounts named `wf<label>-<i>`.
 *
 * @since 0.1.0
 */
export const round = (label: string, n: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const store = yield* EventStore
    const projections = yield* Projections
    const accounts = Array.from({ length: n }, (_, i) => `wf${label}-${i}`)
    const open = (id: string) => store.append(`account-${id}`, [{ type: "Opened", data: { owner: id } }], { expectedVersion: ExpectedVersion.noStream })

    yield* waitForState("running")
    yield* projections.pause(Node.bonusTrigger)
    const paused = yield* waitForState("paused")
    // A batch read before the pause landed would still be applied: let it finish.
    yield* Effect.sleep("200 millis")
    const [mark] = yield* sql.unsafe<{ since: string }>("SELECT coalesce(max(rowid), 0)::text AS since FROM cluster_messages")
    const since = mark!.since
    yield* Effect.forEach(accounts.slice(0, n - 1), open, { concurrency: 8, discard: true })
    const [before] = yield* projections.status([Node.bonusTrigger])
    if (before!.eventsApplied !== paused.eventsApplied || (yield* counts(sql, since)).started !== 0) {
      return yield* Effect.dieMessage(`trigger ${Node.bonusTrigger} went on while paused`)
    }

    const cpu = process.cpuUsage()
    const t0 = performance.now()
    yield* projections.resume(Node.bonusTrigger)
    yield* open(accounts[n - 1]!)
    let startSeconds = Number.NaN
    const deadline = t0 + 300_000
    for (;;) {
      const c = yield* counts(sql, since)
      const now = performance.now()
      if (c.started >= n && Number.isNaN(startSeconds)) startSeconds = (now - t0) / 1000
      if (c.completed >= n) {
        const used = process.cpuUsage(cpu)
        const completeSeconds = (now - t0) / 1000
        yield* verify(label, n, since)
        return { workflows: n, startSeconds, completeSeconds, cpuMicros: (used.user + used.system) / n } satisfies Round
      }
      if (now > deadline) return yield* Effect.dieMessage(`round ${label}: ${c.completed} of ${n} workflows completed in 300 s`)
      yield* Effect.sleep("25 millis")
    }
  })

const verify = (label: string, n: number, since: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [deposits] = yield* sql.unsafe<{ events: number; streams: number }>(
      `SELECT count(*)::int AS events, count(DISTINCT stream_name)::int AS streams FROM recount_events
       WHERE event_type = 'Deposited' AND stream_name LIKE $1`,
      [`account-wf${label}-%`]
    )
    if (deposits?.events !== n || deposits.streams !== n) {
      return yield* Effect.dieMessage(`round ${label}: ${deposits?.events} deposits on ${deposits?.streams} accounts, expected one on each of ${n}`)
    }
    const [replies] = yield* sql.unsafe<{ failed: number; executions: number }>(
      `SELECT count(DISTINCT m.entity_id)::int AS executions,
              count(*) FILTER (WHERE r.payload NOT LIKE '{"_tag":"Success","value":{"_tag":"Complete","exit":{"_tag":"Success"%')::int AS failed
       FROM cluster_messages m JOIN cluster_replies r ON r.request_id = m.id AND r.kind = 0
       WHERE m.entity_type = $1 AND m.tag = 'run' AND m.kind = 0 AND m.rowid > $2`,
      [entityType, since]
    )
    if (replies?.executions !== n || replies.failed !== 0) {
      return yield* Effect.dieMessage(`round ${label}: ${replies?.executions} executions (expected ${n}), ${replies?.failed} did not succeed`)
    }
    const projections = yield* Projections
    const [s] = yield* projections.status([Node.bonusTrigger])
    if (s?.lagEvents !== 0 || s.lastError !== null || s.parkedEvents !== 0) {
      return yield* Effect.dieMessage(`round ${label}: trigger lag ${s?.lagEvents}, error ${s?.lastError}, ${s?.parkedEvents} parked`)
    }
  })
