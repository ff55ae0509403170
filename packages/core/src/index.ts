/**
 * @since 0.1.0
 */
export * as Aggregate from "./Aggregate.js"
export * as Checkpoint from "./Checkpoint.js"
export * as CheckpointStore from "./CheckpointStore.js"
export * as DeciderSpec from "./DeciderSpec.js"
export * as EventEnvelope from "./EventEnvelope.js"
export * as EventRegistry from "./EventRegistry.js"
export * as EventStore from "./EventStore.js"
export * as EventStoreConfig from "./EventStoreConfig.js"
export * as EventStoreError from "./EventStoreError.js"
export * as EventStoreKit from "./EventStoreKit.js"
export * as ExpectedVersion from "./ExpectedVersion.js"
export * as SnapshotStore from "./SnapshotStore.js"
export * as StreamName from "./StreamName.js"
export * as Upcaster from "./Upcaster.js"
