/**
 * The baseline projector: a hand-written loop on plain `pg` doing what Recount's projector does for
 * one projection, and nothing else. One transaction per page: read the next page of the log with
 * Recount's fence, apply it, move the checkpoint, commit. No lease, no failure handling, no decoding.
 *
 * @since 0.1.0
 */
import type pg from "pg"
import * as ReadModel from "./ReadModel.js"

/** The columns of Recount's event reads (packages/postgres/src/internal/rows.ts). */
const eventColumns =
  "global_position, transaction_id::text AS transaction_id, tenant, stream_name, category, stream_version, event_id, " +
  "event_type, schema_version, data, metadata, correlation_id, causation_id, " +
  "floor(extract(epoch FROM recorded_at) * 1000)::float8 AS recorded_at"

const page = `SELECT ${eventColumns} FROM recount_events WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint) ` +
  "AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AND event_type = ANY($3::text[]) " +
  "ORDER BY recount_events.transaction_id, recount_events.global_position LIMIT $4"

/**
 * The statement Recount's `readAll` sends for a projection that names its event types
 * (packages/postgres/src/PgEventStore.ts), character for character (`ReadParity` checks it before
 * the suite measures): the page under the transaction-id fence, and the log's last event under the
 * fence, flagged `head`, which Recount uses to move a filtered reader past events of other types.
 *
 * @since 0.1.0
 */
export const readPageSql = `(SELECT page.*, false AS head FROM (${page}) AS page)
         UNION ALL
         (SELECT ${eventColumns}, true AS head FROM recount_events
          WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY recount_events.transaction_id DESC, recount_events.global_position DESC LIMIT 1)`

interface Row {
  readonly head: boolean
  readonly global_position: string
  readonly transaction_id: string
  readonly data: { readonly accountId: string; readonly amount: number }
}

/** The baseline's checkpoints, one row per read model. */
export const checkpointsTable = "plain_projection_checkpoints"

/** @since 0.1.0 */
export const createCheckpoints = `CREATE TABLE IF NOT EXISTS ${checkpointsTable} ` +
  "(name text PRIMARY KEY, transaction_id xid8 NOT NULL, global_position bigint NOT NULL)"

/**
 * `per-event-prepared` is `per-event` with its upsert prepared once and run by name, as Recount's
 * projector runs a handler's statements; `per-event-pipelined` also sends a page's upserts without
 * waiting for each answer (`pg`'s pipeline mode), as Recount's projector sends a handler's writes.
 * Diagnostic sides: they tell Recount's own cost per event from what preparing and pipelining
 * save.
 *
 * @since 0.1.0
 */
export type Mode = "per-event" | "per-event-prepared" | "per-event-pipelined" | "batched"

/**
 * Builds `table` from the start of the log until a page comes back empty; returns the events it
 * applied.
 *
 * @since 0.1.0
 */
export const catchUp = async (pool: pg.Pool, table: string, mode: Mode, pageSize: number): Promise<number> => {
  const client = await pool.connect()
  ;(client as { pipeline: boolean }).pipeline = mode === "per-event-pipelined"
  try {
    await client.query(ReadModel.createTable(table))
    await client.query(`INSERT INTO ${checkpointsTable} VALUES ($1, '0', 0)`, [table])
    const upsertOne = ReadModel.upsertOne(table)
    const upsertMany = ReadModel.upsertMany(table)
    const upsertPrepared = (row: Row) => client.query({ name: `upsert_${table}`, text: upsertOne, values: [row.data.accountId, row.data.amount] })
    const types = [ReadModel.eventType]
    let tx = "0"
    let pos = "0"
    let applied = 0
    for (;;) {
      await client.query("BEGIN")
      const result = await client.query<Row>(readPageSql, [tx, pos, types, pageSize])
      const rows = result.rows.filter((row) => !row.head)
      if (rows.length === 0) {
        await client.query("COMMIT")
        return applied
      }
      if (mode === "per-event") {
        for (const row of rows) await client.query(upsertOne, [row.data.accountId, row.data.amount])
      } else if (mode === "per-event-prepared") {
        for (const row of rows) await upsertPrepared(row)
      } else if (mode === "per-event-pipelined") {
        await Promise.all(rows.map(upsertPrepared))
      } else {
        const sums = ReadModel.sumByAccount(rows.map((r) => r.data))
        await client.query(upsertMany, [sums.accounts, sums.amounts, sums.counts])
      }
      const last = rows[rows.length - 1]!
      tx = last.transaction_id
      pos = last.global_position
      await client.query(`UPDATE ${checkpointsTable} SET transaction_id = $2::xid8, global_position = $3 WHERE name = $1`, [table, tx, pos])
      await client.query("COMMIT")
      applied += rows.length
    }
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined)
    throw e
  } finally {
    ;(client as { pipeline: boolean }).pipeline = false
    client.release()
  }
}
