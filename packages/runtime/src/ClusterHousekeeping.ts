/**
 * Deletes processed rows of the cluster's message tables, which `@effect/cluster` never cleans up
 * (its poll query slows down as they pile up). Workflow rows are kept whatever their age: a
 * workflow's journal lives there.
 *
 * @since 0.1.0
 */
import { Singleton, Snowflake } from "@effect/cluster"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/** @since 0.1.0 */
export interface Options {
  /** Processed messages older than this go; deduplication of persisted messages lasts this long. */
  readonly retention?: Duration.DurationInput | undefined
  /** How often to clean up. */
  readonly interval?: Duration.DurationInput | undefined
}

/** One day of retention, cleaned every ten minutes. */
export const defaults = { retention: Duration.days(1), interval: Duration.minutes(10) }

/**
 * Deletes processed, non-workflow requests older than the retention, with their replies and
 * their acknowledgement and interrupt messages. Message ids are snowflakes, so they carry their age.
 *
 * @since 0.1.0
 */
export const cleanup = (options?: Options): Effect.Effect<{ readonly messages: number; readonly replies: number }, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const retention = Duration.toMillis(Duration.decode(options?.retention ?? defaults.retention))
    const cutoff = BigInt(Math.max(0, Date.now() - retention - Snowflake.constEpochMillis)) << 22n
    const [row] = yield* sql.unsafe<{ messages: string; replies: string }>(
      `WITH old AS (
         SELECT request_id FROM cluster_messages
         WHERE kind = 0 AND processed AND id < $1 AND entity_type NOT LIKE 'Workflow/%'
       ),
       r AS (DELETE FROM cluster_replies WHERE request_id IN (SELECT request_id FROM old) RETURNING 1),
       m AS (DELETE FROM cluster_messages WHERE request_id IN (SELECT request_id FROM old) RETURNING 1)
       SELECT (SELECT count(*) FROM m) AS messages, (SELECT count(*) FROM r) AS replies`,
      [String(cutoff)]
    )
    return { messages: Number(row?.messages ?? 0), replies: Number(row?.replies ?? 0) }
  })

/**
 * Runs `cleanup` on a schedule, on one node of the cluster.
 *
 * @since 0.1.0
 */
export const layer = (options?: Options) =>
  Singleton.make(
    "recount/cluster-housekeeping",
    cleanup(options).pipe(
      Effect.tap((n) => n.messages > 0 ? Effect.logDebug(`cluster housekeeping removed ${n.messages} messages and ${n.replies} replies`) : Effect.void),
      Effect.catchAll((e) => Effect.logWarning("cluster housekeeping failed", e)),
      Effect.repeat(Schedule.spaced(options?.interval ?? defaults.interval)),
      Effect.asVoid
    )
  )
