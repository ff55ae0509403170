/**
 * The event store: append-only streams with optimistic concurrency, and a global log that readers
 * follow from a checkpoint without ever skipping an event.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type { Checkpoint } from "./Checkpoint.js"
import type { AppendResult, EventData, RecordedEvent } from "./EventEnvelope.js"
import type { AppendError, ReadError } from "./EventStoreError.js"
import { EventStoreConfig } from "./EventStoreConfig.js"
import type { ExpectedVersion } from "./ExpectedVersion.js"
import * as MemoryEventStore from "./internal/memoryEventStore.js"

/** @since 0.1.0 */
export interface AppendOptions {
  /** Defaults to `ExpectedVersion.any`. */
  readonly expectedVersion?: ExpectedVersion | undefined
  /** Defaults to the configured default tenant. */
  readonly tenant?: string | undefined
  /**
   * The command that produced these events. If it is already recorded for the tenant, nothing is
   * appended and the original result comes back with `alreadyApplied: true`.
   */
  readonly commandId?: string | undefined
}

/** @since 0.1.0 */
export interface ReadStreamOptions {
  readonly tenant?: string | undefined
  readonly direction?: "forward" | "backward" | undefined
  /** Inclusive. Forward reads default to 1, backward reads to the last event. */
  readonly fromVersion?: number | undefined
  /** At most this many events in all. */
  readonly limit?: number | undefined
}

/** @since 0.1.0 */
export interface ReadAllOptions {
  /** Exclusive; defaults to `Checkpoint.start`. */
  readonly after?: Checkpoint | undefined
  /** Only events of this tenant; all tenants when absent. */
  readonly tenant?: string | undefined
  /** Only events of these categories. */
  readonly categories?: ReadonlyArray<string> | undefined
  /** Only events of these types. */
  readonly eventTypes?: ReadonlyArray<string> | undefined
  /** At most this many events; defaults to the configured subscription batch size. */
  readonly batchSize?: number | undefined
}

/**
 * One batch of the global log. `checkpoint` is where the next read starts: after the batch's last
 * event when the batch is full; when it is short, after the last event of the log (under the
 * fence), so that a filtered reader moves past the events that are not of its kind.
 *
 * @since 0.1.0
 */
export interface ReadAllBatch {
  readonly events: ReadonlyArray<RecordedEvent>
  readonly checkpoint: Checkpoint
}

/**
 * Which events a command produced, recorded in the same transaction as the events.
 *
 * @since 0.1.0
 */
export interface CommandRecord {
  readonly tenant: string
  readonly commandId: string
  readonly streamName: string
  readonly firstVersion: number
  readonly streamVersion: number
  readonly globalPosition: bigint
}

/**
 * A signal that the log may have grown. A reader notes `count()` before it reads and, when it found
 * nothing new, waits with that count: an append that happened in between wakes it at once.
 *
 * @since 0.1.0
 */
export interface AppendSignal {
  readonly count: () => number
  /** Returns when the count moves past `seen`, or after `timeout` (the polling fallback). */
  readonly await: (seen: number, timeout: Duration.DurationInput) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 */
export interface EventStoreService {
  /**
   * Appends events to one stream atomically. Fails with `WrongExpectedVersion` when the stream is
   * not where the writer expected, and with a typed validation error (nothing stored) for bad input.
   */
  readonly append: (
    streamName: string,
    events: ReadonlyArray<EventData>,
    options?: AppendOptions
  ) => Effect.Effect<AppendResult, AppendError>
  /** The stream's current version; 0 when it has no events. */
  readonly streamVersion: (streamName: string, options?: { readonly tenant?: string | undefined }) => Effect.Effect<number, ReadError>
  /** Reads a stream page by page, never holding the whole stream in memory. */
  readonly readStream: (streamName: string, options?: ReadStreamOptions) => Stream.Stream<RecordedEvent, ReadError>
  /**
   * Reads one batch of the global log after a checkpoint, ordered by (transaction, position).
   * Only events of finished transactions are returned, so a later read never finds an event
   * that belongs before what an earlier read returned.
   */
  readonly readAll: (options?: ReadAllOptions) => Effect.Effect<ReadAllBatch, ReadError>
  /** Follows the global log from a checkpoint: catches up, then waits for new events, forever. */
  readonly subscribe: (options?: ReadAllOptions) => Stream.Stream<RecordedEvent, ReadError>
  /** Wakes readers of the global log after appends, from this process or (on PostgreSQL) any other. */
  readonly appended: AppendSignal
  /** What a command id produced, if it is recorded. */
  readonly findCommand: (
    commandId: string,
    options?: { readonly tenant?: string | undefined }
  ) => Effect.Effect<Option.Option<CommandRecord>, ReadError>
}

/**
 * @since 0.1.0
 */
export class EventStore extends Context.Tag("@recount/core/EventStore")<EventStore, EventStoreService>() {}

/**
 * An event store in memory, with the same contract as the PostgreSQL one. For unit tests and
 * single-process experiments; nothing survives the process.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<EventStore> = Layer.effect(EventStore, Effect.map(EventStoreConfig, MemoryEventStore.make))
