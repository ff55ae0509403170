/**
 * The latest snapshot of each stream: an aggregate's state at a stream version, so waking it needs
 * only the events after that version.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { EventStoreConfig } from "./EventStoreConfig.js"
import type { InvalidArgument, InvalidStreamName, StoreUnavailable } from "./EventStoreError.js"
import * as Prepare from "./internal/prepare.js"

/**
 * @since 0.1.0
 */
export const Snapshot = Schema.Struct({
  streamName: Schema.String,
  /** The stream version the state includes. */
  version: Schema.Number,
  /** The version of the state's schema; a reader ignores snapshots of another version. */
  schemaVersion: Schema.Number,
  /** The encoded state, as JSON. */
  state: Schema.Unknown,
  takenAt: Schema.DateFromSelf
})
/** @since 0.1.0 */
export interface Snapshot extends Schema.Schema.Type<typeof Snapshot> {}

/** @since 0.1.0 */
export type SnapshotError = InvalidStreamName | InvalidArgument | StoreUnavailable

/**
 * @since 0.1.0
 */
export interface SnapshotStoreService {
  /** Keeps the snapshot unless a newer one (a higher version) is already stored. */
  readonly save: (
    snapshot: Omit<Snapshot, "takenAt">,
    options?: { readonly tenant?: string | undefined }
  ) => Effect.Effect<void, SnapshotError>
  readonly load: (
    streamName: string,
    options?: { readonly tenant?: string | undefined }
  ) => Effect.Effect<Option.Option<Snapshot>, SnapshotError>
}

/** @since 0.1.0 */
export class SnapshotStore extends Context.Tag("@recount/core/SnapshotStore")<SnapshotStore, SnapshotStoreService>() {}

/** Checks the tenant and stream name of a snapshot call; shared by every implementation. */
export const validate = (streamName: string, tenant: string | undefined) =>
  Effect.gen(function*() {
    const config = yield* EventStoreConfig
    return yield* Prepare.resolveStream(streamName, tenant, config)
  })

/**
 * Snapshots in memory.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<SnapshotStore> = Layer.sync(SnapshotStore, () => {
  const snapshots = new Map<string, Snapshot>()
  return {
    save: (snapshot, options) =>
      Effect.map(validate(snapshot.streamName, options?.tenant), ({ streamName, tenant }) => {
        const k = `${tenant}\u0000${streamName}`
        const current = snapshots.get(k)
        if (current && current.version > snapshot.version) return
        snapshots.set(k, { ...snapshot, streamName, state: structuredClone(snapshot.state), takenAt: new Date() })
      }),
    load: (streamName, options) =>
      Effect.map(validate(streamName, options?.tenant), ({ streamName, tenant }) =>
        Option.fromNullable(snapshots.get(`${tenant}\u0000${streamName}`)))
  }
})
