/**
 * Everything Recount stores, on PostgreSQL: runs the migrations, then provides the event store,
 * the snapshot store and the checkpoint store.
 *
 * @since 0.1.0
 */
import type * as Migrator from "@effect/sql/Migrator"
import type * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { CheckpointStore } from "@recount/core/CheckpointStore"
import type { EventStore } from "@recount/core/EventStore"
import type { SnapshotStore } from "@recount/core/SnapshotStore"
import * as Layer from "effect/Layer"
import * as Migrations from "./Migrations.js"
import * as PgCheckpointStore from "./PgCheckpointStore.js"
import * as PgEventStore from "./PgEventStore.js"
import type * as PgPool from "./PgPool.js"
import * as PgSnapshotStore from "./PgSnapshotStore.js"

/**
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  EventStore | SnapshotStore | CheckpointStore,
  Migrator.MigrationError | SqlError,
  PgClient.PgClient | SqlClient.SqlClient | PgPool.PgPool
> = Layer.mergeAll(PgEventStore.layer, PgSnapshotStore.layer, PgCheckpointStore.layer).pipe(
  Layer.provide(Migrations.layer)
)
