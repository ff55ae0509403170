/**
 * Recount's schema, created by versioned migrations recorded in `recount_migrations`. The table
 * and column names are a public contract: users query them directly.
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The table that records which migrations ran. */
export const table = "recount_migrations"

/** The NOTIFY channel every append signals on commit. */
export const notifyChannel = "recount_events"

const createEventStore = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE recount_streams (
      tenant        text        NOT NULL,
      stream_name   text        NOT NULL,
      category      text        NOT NULL,
      version       bigint      NOT NULL,
      last_position bigint      NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      updated_at    timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant, stream_name)
    )`
  yield* sql`
    CREATE TABLE recount_events (
      global_position bigserial   PRIMARY KEY,
      transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
      tenant          text        NOT NULL,
      stream_name     text        NOT NULL,
      category        text        NOT NULL,
      stream_version  bigint      NOT NULL,
      event_id        uuid        NOT NULL UNIQUE,
      event_type      text        NOT NULL,
      schema_version  integer     NOT NULL,
      data            jsonb       NOT NULL,
      metadata        jsonb       NOT NULL,
      correlation_id  text,
      causation_id    text,
      recorded_at     timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant, stream_name, stream_version)
    )`
  yield* sql`CREATE INDEX recount_events_log_idx ON recount_events (transaction_id, global_position)`
  yield* sql`CREATE INDEX recount_events_category_idx ON recount_events (category, transaction_id, global_position)`
  yield* sql`
    CREATE TABLE recount_commands (
      tenant          text        NOT NULL,
      command_id      text        NOT NULL,
      stream_name     text        NOT NULL,
      first_version   bigint      NOT NULL,
      last_version    bigint      NOT NULL,
      global_position bigint      NOT NULL,
      recorded_at     timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant, command_id)
    )`
  yield* sql`
    CREATE TABLE recount_snapshots (
      tenant         text        NOT NULL,
      stream_name    text        NOT NULL,
      version        bigint      NOT NULL,
      schema_version integer     NOT NULL,
      state          jsonb       NOT NULL,
      taken_at       timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant, stream_name)
    )`
  yield* sql`
    CREATE TABLE recount_checkpoints (
      name            text        PRIMARY KEY,
      transaction_id  xid8        NOT NULL,
      global_position bigint      NOT NULL,
      updated_at      timestamptz NOT NULL DEFAULT now()
    )`
  // Append-only: changing or removing events goes through an explicit, audited path (later).
  yield* sql`
    CREATE FUNCTION recount_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'recount_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'RC001';
    END $$`
  yield* sql`
    CREATE TRIGGER recount_events_no_update_delete BEFORE UPDATE OR DELETE ON recount_events
    FOR EACH ROW EXECUTE FUNCTION recount_events_append_only()`
  yield* sql`
    CREATE TRIGGER recount_events_no_truncate BEFORE TRUNCATE ON recount_events
    FOR EACH STATEMENT EXECUTE FUNCTION recount_events_append_only()`
  // One round trip per append. Statuses: 0 appended, 1 command already recorded, 3 wrong expected
  // version (stream_version is the actual one). An event id that is already stored raises RC002
  // and writes nothing; the client then asks recount_find_appended whether it is a retry.
  // p_expected: -1 any, -2 no stream, -3 stream exists, n >= 0 exactly n.
  // No NOTIFY here: a notifying commit takes a server-wide lock, which would serialise every
  // append. Writers notify after commit, coalesced (see PgEventStore).
  yield* sql`
    CREATE FUNCTION recount_append(
      p_tenant text, p_stream text, p_category text, p_expected bigint, p_events jsonb, p_command_id text
    ) RETURNS TABLE (status int, stream_version bigint, global_position bigint, first_version bigint)
    LANGUAGE plpgsql AS $$
    DECLARE
      v_count    int := jsonb_array_length(p_events);
      v_version  bigint;
      v_position bigint;
      v_found    boolean;
      v_inserted bigint;
      r          record;
    BEGIN
      IF p_command_id IS NOT NULL THEN
        SELECT c.first_version, c.last_version, c.global_position INTO r
          FROM recount_commands c WHERE c.tenant = p_tenant AND c.command_id = p_command_id;
        IF FOUND THEN
          RETURN QUERY SELECT 1, r.last_version, r.global_position, r.first_version;
          RETURN;
        END IF;
      END IF;

      LOOP
        SELECT s.version, s.last_position INTO v_version, v_position
          FROM recount_streams s WHERE s.tenant = p_tenant AND s.stream_name = p_stream FOR UPDATE;
        v_found := FOUND;
        IF NOT v_found THEN
          v_version := 0;
          v_position := 0;
        END IF;
        IF (p_expected = -2 AND v_version <> 0) OR (p_expected = -3 AND v_version = 0)
           OR (p_expected >= 0 AND v_version <> p_expected) THEN
          -- A retry of an append that already happened finds the stream moved on: answer it by
          -- its event ids, not with a version error.
          IF v_count > 0 AND EXISTS (SELECT 1 FROM recount_events e WHERE e.event_id = (p_events->0->>'i')::uuid) THEN
            RAISE EXCEPTION 'an event id of this append is already stored' USING ERRCODE = 'RC002';
          END IF;
          RETURN QUERY SELECT 3, v_version, v_position, NULL::bigint;
          RETURN;
        END IF;
        EXIT WHEN v_found OR v_count = 0;
        -- A concurrent first append may win this insert; then lock its row and check again.
        INSERT INTO recount_streams (tenant, stream_name, category, version, last_position)
          VALUES (p_tenant, p_stream, p_category, 0, 0) ON CONFLICT DO NOTHING;
        EXIT WHEN FOUND;
      END LOOP;

      IF v_count > 0 THEN
        INSERT INTO recount_events (tenant, stream_name, category, stream_version, event_id, event_type,
                                    schema_version, data, metadata, correlation_id, causation_id)
          SELECT p_tenant, p_stream, p_category, v_version + t.o, (t.e->>'i')::uuid, t.e->>'t',
                 (t.e->>'v')::int, t.e->'d', t.e->'m', t.e->>'c', t.e->>'k'
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, o)
          ORDER BY t.o
          ON CONFLICT (event_id) DO NOTHING;
        GET DIAGNOSTICS v_inserted = ROW_COUNT;
        IF v_inserted < v_count THEN
          RAISE EXCEPTION 'an event id of this append is already stored' USING ERRCODE = 'RC002';
        END IF;
        v_position := currval(pg_get_serial_sequence('recount_events', 'global_position'));
        UPDATE recount_streams s SET version = v_version + v_count, last_position = v_position, updated_at = now()
          WHERE s.tenant = p_tenant AND s.stream_name = p_stream;
      END IF;

      IF p_command_id IS NOT NULL THEN
        INSERT INTO recount_commands (tenant, command_id, stream_name, first_version, last_version, global_position)
          VALUES (p_tenant, p_command_id, p_stream, v_version + 1, v_version + v_count, v_position);
      END IF;

      RETURN QUERY SELECT 0, v_version + v_count, v_position, v_version + 1;
    END $$`
  // The slow path of a retry by event id: were these exact events appended before, in this order?
  // Status 2 with the original result when they were, 4 with the first differing id otherwise.
  yield* sql`
    CREATE FUNCTION recount_find_appended(p_tenant text, p_stream text, p_events jsonb)
    RETURNS TABLE (status int, stream_version bigint, global_position bigint, first_version bigint, conflict_event_id uuid)
    LANGUAGE plpgsql AS $$
    DECLARE
      v_first    bigint;
      v_version  bigint;
      v_position bigint;
      r          record;
    BEGIN
      FOR r IN
        SELECT (t.e->>'i')::uuid AS id, s.event_id IS NOT NULL AS stored, s.stream_version AS version,
               s.global_position AS position,
               (s.tenant = p_tenant AND s.stream_name = p_stream AND s.event_type = t.e->>'t'
                 AND s.schema_version = (t.e->>'v')::int AND s.data = t.e->'d') AS same, t.o
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, o)
        LEFT JOIN recount_events s ON s.event_id = (t.e->>'i')::uuid
        ORDER BY t.o
      LOOP
        v_first := coalesce(v_first, r.version);
        IF NOT r.stored OR NOT r.same OR r.version <> v_first + r.o - 1 THEN
          RETURN QUERY SELECT 4, NULL::bigint, NULL::bigint, NULL::bigint, r.id;
          RETURN;
        END IF;
        v_version := r.version;
        v_position := r.position;
      END LOOP;
      RETURN QUERY SELECT 2, v_version, v_position, v_first, NULL::uuid;
    END $$`
})

// Projections: one control row each (the active read-model version, its checkpoint, the lease
// that fences a stale instance, a rebuild in progress), the migrations each read-model version
// ran, and the events a projection parked.
const createProjections = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE recount_projections (
      name                   text        PRIMARY KEY,
      version                integer     NOT NULL DEFAULT 1,
      transaction_id         xid8        NOT NULL DEFAULT '0',
      global_position        bigint      NOT NULL DEFAULT 0,
      events_applied         bigint      NOT NULL DEFAULT 0,
      paused                 boolean     NOT NULL DEFAULT false,
      failed_at              timestamptz,
      last_error             text,
      rebuild_version        integer,
      rebuild_transaction_id xid8,
      rebuild_position       bigint,
      rebuild_started_at     timestamptz,
      owner                  text,
      epoch                  bigint      NOT NULL DEFAULT 0,
      heartbeat_at           timestamptz,
      updated_at             timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`
    CREATE TABLE recount_projection_migrations (
      projection text        NOT NULL,
      version    integer     NOT NULL,
      migration  text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (projection, version, migration)
    )`
  yield* sql`
    CREATE TABLE recount_dead_letters (
      projection      text        NOT NULL,
      event_id        uuid        NOT NULL,
      transaction_id  xid8        NOT NULL,
      global_position bigint      NOT NULL,
      tenant          text        NOT NULL,
      stream_name     text        NOT NULL,
      stream_version  bigint      NOT NULL,
      event_type      text        NOT NULL,
      error           text        NOT NULL,
      attempts        integer     NOT NULL,
      status          text        NOT NULL CHECK (status IN ('parked', 'retry', 'applied', 'skipped')),
      parked_at       timestamptz NOT NULL DEFAULT now(),
      resolved_at     timestamptz,
      PRIMARY KEY (projection, event_id)
    )`
})

// API keys for the public API: only a hash of the secret is stored.
const createApiKeys = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE recount_api_keys (
      id          text        PRIMARY KEY,
      tenant      text        NOT NULL,
      role        text        NOT NULL CHECK (role IN ('read', 'write', 'admin')),
      name        text        NOT NULL,
      secret_hash text        NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      revoked_at  timestamptz
    )`
  yield* sql`CREATE INDEX recount_api_keys_tenant_idx ON recount_api_keys (tenant)`
})

/**
 * Every migration, in order. Add new ones at the end; never edit one that has shipped.
 *
 * @since 0.1.0
 */
export const migrations: Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>> = {
  "0001_create_event_store": createEventStore,
  "0002_create_projections": createProjections,
  "0003_create_api_keys": createApiKeys
}

/**
 * Runs the migrations that have not run yet; concurrent starters wait for each other.
 *
 * @since 0.1.0
 */
export const run: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError,
  SqlClient.SqlClient
> = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table })

/**
 * Runs the migrations when the layer is built.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<never, Migrator.MigrationError | SqlError, SqlClient.SqlClient> = Layer.effectDiscard(run)
