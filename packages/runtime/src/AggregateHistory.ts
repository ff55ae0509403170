/**
 * An aggregate's past, read-only: its state as of a stream version or a recorded time, and its
 * events with their timestamps. Never touches the live instance.
 *
 * @since 0.1.0
 */
import * as Aggregate from "@recount/core/Aggregate"
import { EventStore } from "@recount/core/EventStore"
import type { EventDecodeError, ReadError } from "@recount/core/EventStoreError"
import type { SnapshotStore } from "@recount/core/SnapshotStore"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Instance from "./internal/instance.js"

/** @since 0.1.0 */
export interface StateAt<State> {
  readonly state: State
  /** The last stream version folded in. */
  readonly version: number
  /** The snapshot version the fold started from, if one was used. */
  readonly fromSnapshot: number | undefined
}

/**
 * The state after folding the stream up to `version` or `time` (inclusive), or the current state
 * when neither is given. Uses a snapshot when one at or before the target exists.
 *
 * @since 0.1.0
 */
export const stateAt = <A extends Aggregate.Any>(
  aggregate: A,
  aggregateId: string,
  options?: {
    readonly tenant?: string | undefined
    readonly version?: number | undefined
    readonly time?: Date | undefined
    /** Set to false to fold from the first event, ignoring snapshots. */
    readonly useSnapshot?: boolean | undefined
  }
): Effect.Effect<StateAt<Aggregate.StateOf<A>>, ReadError | EventDecodeError, EventStore | SnapshotStore> =>
  Effect.map(
    Instance.load(aggregate, options?.tenant ?? "default", Aggregate.streamName(aggregate, aggregateId), {
      toVersion: options?.version,
      toTime: options?.time,
      useSnapshot: options?.useSnapshot ?? true
    }),
    (loaded) => ({
      state: loaded.state,
      version: loaded.version,
      fromSnapshot: loaded.snapshot && "used" in loaded.snapshot ? loaded.snapshot.used : undefined
    })
  )

/**
 * Every event of an aggregate, decoded, with its version and recorded time.
 *
 * @since 0.1.0
 */
export const history = <A extends Aggregate.Any>(
  aggregate: A,
  aggregateId: string,
  options?: { readonly tenant?: string | undefined }
): Stream.Stream<
  { readonly version: number; readonly recordedAt: Date; readonly event: Aggregate.EventOf<A> },
  ReadError | EventDecodeError,
  EventStore
> =>
  Stream.unwrap(Effect.map(EventStore, (store) =>
    store.readStream(Aggregate.streamName(aggregate, aggregateId), { tenant: options?.tenant }).pipe(
      Stream.mapEffect((e) =>
        Effect.map(aggregate.events.decode(e), (event) => ({ version: e.streamVersion, recordedAt: e.recordedAt, event: event as Aggregate.EventOf<A> }))
      )
    )))
