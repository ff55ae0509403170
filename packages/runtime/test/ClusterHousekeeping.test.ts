import { SingleRunner, Snowflake } from "@effect/cluster"
import { expect, layer } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ClusterHousekeeping from "../src/ClusterHousekeeping.js"

// The cluster's tables, without the scheduled housekeeping (which would race this test).
const Live = SingleRunner.layer({ runnerStorage: "sql" }).pipe(Layer.provideMerge(TestDatabase.layerStores()))

const idAt = (millisAgo: number, n: number) => (BigInt(Date.now() - millisAgo - Snowflake.constEpochMillis) << 22n) + BigInt(n)

layer(Live, { excludeTestServices: true })("cluster housekeeping", (it) => {
  it.effect("deletes old processed requests with their replies, keeps recent, unprocessed and workflow rows", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const day = 24 * 3600 * 1000
      const rows: Array<[bigint, string, boolean]> = [
        [idAt(2 * day, 1), "recount/account", true], // old and done: goes
        [idAt(2 * day, 2), "recount/account", false], // old but unprocessed: stays
        [idAt(2 * day, 3), "Workflow/Fulfilment", true], // a workflow journal: stays
        [idAt(60_000, 4), "recount/account", true] // recent: stays
      ]
      for (const [id, type, processed] of rows) {
        yield* sql.unsafe(
          `INSERT INTO cluster_messages (id, shard_id, entity_type, entity_id, kind, tag, payload, processed, request_id)
           VALUES ($1, 'default:1', $2, 'x', 0, 'Execute', '{}', $3, $1)`,
          [String(id), type, processed]
        )
        yield* sql.unsafe(`INSERT INTO cluster_replies (id, kind, request_id, payload) VALUES ($1, 0, $2, '{}')`, [String(id + 1000n), String(id)])
      }
      const removed = yield* ClusterHousekeeping.cleanup({ retention: "1 day" })
      expect(removed).toEqual({ messages: 1, replies: 1 })
      const left = yield* sql.unsafe<{ id: string }>("SELECT id::text AS id FROM cluster_messages WHERE entity_id = 'x' ORDER BY id")
      expect(left.map((r) => BigInt(r.id))).toEqual(rows.slice(1).map(([id]) => id))
      expect(yield* ClusterHousekeeping.cleanup({ retention: "1 day" })).toEqual({ messages: 0, replies: 0 })
    }))
})
