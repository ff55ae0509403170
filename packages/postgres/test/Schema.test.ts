import { expect, layer } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Migrations from "../src/Migrations.js"

layer(TestDatabase.layerStores(), { excludeTestServices: true })("schema (PostgreSQL)", (it) => {
  it.effect("the events table rejects UPDATE, DELETE and TRUNCATE, and keeps the rows", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const sql = yield* PgClient.PgClient
      yield* store.append("guarded-1", [{ type: "Deposited", data: { n: 1 } }])
      const attempts = [
        "UPDATE recount_events SET data = '{}'::jsonb WHERE stream_name = 'guarded-1'",
        "DELETE FROM recount_events WHERE stream_name = 'guarded-1'",
        "TRUNCATE recount_events"
      ]
      for (const statement of attempts) {
        const error = yield* Effect.flip(sql.unsafe(statement))
        expect(String((error.cause as Error).message)).toContain("append-only")
        expect((error.cause as { code: string }).code).toBe("RC001")
      }
      const rows = yield* sql.unsafe<{ data: unknown }>("SELECT data FROM recount_events WHERE stream_name = 'guarded-1'")
      expect(rows).toEqual([{ data: { n: 1 } }])
    }))

  it.effect("migrations are recorded once and running them again, even concurrently, does nothing", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const again = yield* Effect.all([Migrations.run, Migrations.run, Migrations.run], { concurrency: "unbounded" })
      expect(again.flat()).toEqual([])
      const recorded = yield* sql.unsafe<{ migration_id: number; name: string }>(
        `SELECT migration_id, name FROM ${Migrations.table} ORDER BY migration_id`
      )
      expect(recorded).toEqual(Object.keys(Migrations.migrations).map((key, i) => ({ migration_id: i + 1, name: key.slice(5) })))
    }))

  it.effect("the documented tables and columns exist", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const columns = yield* sql.unsafe<{ table_name: string; column_name: string }>(
        `SELECT table_name, column_name FROM information_schema.columns
         WHERE table_name LIKE 'recount\\_%' AND table_name <> '${Migrations.table}' ORDER BY table_name, ordinal_position`
      )
      const byTable: Record<string, Array<string>> = {}
      for (const c of columns) (byTable[c.table_name] ??= []).push(c.column_name)
      expect(byTable).toEqual({
        recount_api_keys: ["id", "tenant", "role", "name", "secret_hash", "created_at", "revoked_at"],
        recount_checkpoints: ["name", "transaction_id", "global_position", "updated_at"],
        recount_commands: ["tenant", "command_id", "stream_name", "first_version", "last_version", "global_position", "recorded_at"],
        recount_events: [
          "global_position", "transaction_id", "tenant", "stream_name", "category", "stream_version", "event_id",
          "event_type", "schema_version", "data", "metadata", "correlation_id", "causation_id", "recorded_at"
        ],
        recount_dead_letters: [
          "projection", "event_id", "transaction_id", "global_position", "tenant", "stream_name", "stream_version", "event_type",
          "error", "attempts", "status", "parked_at", "resolved_at"
        ],
        recount_projection_migrations: ["projection", "version", "migration", "applied_at"],
        recount_projections: [
          "name", "version", "transaction_id", "global_position", "events_applied", "paused", "failed_at", "last_error",
          "rebuild_version", "rebuild_transaction_id", "rebuild_position", "rebuild_started_at", "owner", "epoch", "heartbeat_at", "updated_at"
        ],
        recount_snapshots: ["tenant", "stream_name", "version", "schema_version", "state", "taken_at"],
        recount_streams: ["tenant", "stream_name", "category", "version", "last_position", "created_at", "updated_at"]
      })
    }))
})
