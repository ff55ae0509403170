/**
 * Checks that the baseline still sends the statements Recount sends. The comparison is only fair
 * while both do the same SQL work, and Recount's SQL can change under the benchmark.
 *
 * @since 0.1.0
 */
import * as Checkpoint from "@recount/core/Checkpoint"
import { EventStore } from "@recount/core/EventStore"
import { PgPool } from "@recount/postgres/PgPool"
import type Pg from "pg"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Events from "./Events.js"
import * as PlainPg from "./PlainPg.js"
import type { StoreRuntime } from "./RecountSides.js"

/**
 * Runs `effect` and returns the text of every statement it sent to the pool. Recount's hot paths
 * query the pool directly; the coalesced NOTIFY after an append is left out (the baseline has no
 * followers to wake, so that work counts against Recount).
 *
 * @since 0.1.0
 */
export const recording = <A, E>(pool: Pg.Pool, effect: Effect.Effect<A, E>) =>
  Effect.suspend(() => {
    const seen: Array<string> = []
    const original = pool.query
    const spy = function(this: Pg.Pool, text: unknown, ...rest: Array<unknown>) {
      const sql = typeof text === "string" ? text : (text as { text: string }).text
      if (!sql.startsWith("NOTIFY")) seen.push(sql)
      return (original as (...args: Array<unknown>) => unknown).call(this, text, ...rest)
    }
    return Effect.acquireUseRelease(
      Effect.sync(() => void (pool.query = spy as typeof pool.query)),
      () => Effect.as(effect, seen),
      () => Effect.sync(() => void (pool.query = original))
    )
  })

/**
 * Appends to a new stream and reads it back and the log, all through Recount; returns one line per
 * operation whose statement differs from the baseline's (empty when they all match).
 *
 * @since 0.1.0
 */
export const check = (runtime: StoreRuntime): Promise<ReadonlyArray<string>> =>
  runtime.runPromise(Effect.gen(function*() {
    const store = yield* EventStore
    const pool = yield* PgPool
    const { streamName, accountId } = Events.freshStream("r")
    const operations: ReadonlyArray<{ name: string; expected: string; run: Effect.Effect<unknown, unknown> }> = [
      {
        name: "append",
        expected: PlainPg.appendSql,
        run: store.append(streamName, Events.deposits(accountId, 0, 1), { expectedVersion: ExpectedVersion.exact(0) })
      },
      { name: "readStream", expected: PlainPg.forwardSql, run: Stream.runDrain(store.readStream(streamName)) },
      { name: "readAll", expected: PlainPg.readAllSql, run: store.readAll({ after: Checkpoint.start, batchSize: 1 }) }
    ]
    const problems: Array<string> = []
    for (const op of operations) {
      const sent = yield* recording(pool, op.run)
      const other = sent.filter((s) => s !== op.expected)
      if (other.length > 0 || sent.length === 0) {
        problems.push(`${op.name}: Recount sent ${JSON.stringify(sent)}; the baseline sends ${JSON.stringify(op.expected)}`)
      }
    }
    return problems
  }))
