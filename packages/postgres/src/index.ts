/**
 * @since 0.1.0
 */
export * as Database from "./Database.js"
export * as EmbeddedPostgres from "./EmbeddedPostgres.js"
export * as Migrations from "./Migrations.js"
export * as PgCheckpointStore from "./PgCheckpointStore.js"
export * as PgEventStore from "./PgEventStore.js"
export * as PgPool from "./PgPool.js"
export * as PgSnapshotStore from "./PgSnapshotStore.js"
export * as PgStores from "./PgStores.js"
export * as StoreStatus from "./StoreStatus.js"
