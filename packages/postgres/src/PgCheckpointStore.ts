/**
 * Checkpoints on PostgreSQL in `recount_checkpoints`. A save inside `sql.withTransaction` commits
 * with the caller's other writes, which is what makes projections exactly-once.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { CheckpointStore, validateName } from "@recount/core/CheckpointStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { unavailable } from "./internal/sqlError.js"

/**
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  return CheckpointStore.of({
    load: (name) =>
      Effect.flatMap(validateName(name), (n) =>
        sql.unsafe<{ transaction_id: string; global_position: string }>(
          "SELECT transaction_id::text AS transaction_id, global_position FROM recount_checkpoints WHERE name = $1",
          [n]
        ).pipe(
          Effect.mapError(unavailable("loadCheckpoint")),
          Effect.map((rows) =>
            Option.map(Option.fromNullable(rows[0]), (row) => ({
              transactionId: BigInt(row.transaction_id),
              position: BigInt(row.global_position)
            }))
          )
        )),
    save: (name, checkpoint) =>
      Effect.flatMap(validateName(name), (n) =>
        sql.unsafe(
          `INSERT INTO recount_checkpoints (name, transaction_id, global_position) VALUES ($1, $2::xid8, $3)
           ON CONFLICT (name) DO UPDATE
             SET transaction_id = excluded.transaction_id, global_position = excluded.global_position, updated_at = now()`,
          [n, String(checkpoint.transactionId), String(checkpoint.position)]
        ).pipe(Effect.mapError(unavailable("saveCheckpoint")), Effect.asVoid))
  })
})

/** @since 0.1.0 */
export const layer: Layer.Layer<CheckpointStore, never, SqlClient.SqlClient> = Layer.effect(CheckpointStore, make)
