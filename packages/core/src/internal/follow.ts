import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { type Checkpoint, start } from "../Checkpoint.js"
import type { RecordedEvent } from "../EventEnvelope.js"
import type { ReadAllBatch, ReadAllOptions } from "../EventStore.js"
import type { EventStoreConfigShape } from "../EventStoreConfig.js"
import type { ReadError } from "../EventStoreError.js"
import { positiveInt } from "./prepare.js"
import type { Wakeup } from "./wakeup.js"

/**
 * Catch up from a checkpoint, then follow: read a batch; when it is short, wait for a wake-up or
 * the polling interval, whichever comes first. The checkpoint only moves forward, past events
 * already emitted, so nothing is emitted twice.
 */
export const follow = <E, R>(options: {
  readonly from: Checkpoint
  readonly batchSize: number
  readonly pollInterval: Duration.DurationInput
  readonly wakeup: Wakeup
  readonly readBatch: (after: Checkpoint) => Effect.Effect<ReadAllBatch, E, R>
  readonly onStart?: Effect.Effect<void, never, R> | undefined
}): Stream.Stream<RecordedEvent, E, R> =>
  Stream.suspend(() => {
    let checkpoint = options.from
    let caughtUp = false
    let seen = options.wakeup.count()
    const next = Effect.gen(function*() {
      while (true) {
        if (caughtUp) yield* options.wakeup.awaitChange(seen, options.pollInterval)
        seen = options.wakeup.count()
        const batch = yield* options.readBatch(checkpoint)
        checkpoint = batch.checkpoint
        caughtUp = batch.events.length < options.batchSize
        if (batch.events.length > 0) return Chunk.unsafeFromArray(batch.events as Array<RecordedEvent>)
      }
    })
    const events = Stream.repeatEffectChunk(next)
    return options.onStart ? Stream.concat(Stream.execute(options.onStart), events) : events
  })

/**
 * A store's `subscribe`: checks the options, then follows the log through the store's own
 * `readAll` and wake-ups. `onStart` runs once per subscription (a store starts its listener there).
 */
export const subscription = <R>(options: {
  readonly config: EventStoreConfigShape
  readonly wakeup: Wakeup
  readonly readAll: (options: ReadAllOptions) => Effect.Effect<ReadAllBatch, ReadError, R>
  readonly onStart?: Effect.Effect<void, never, R> | undefined
}) =>
(subscribe: ReadAllOptions | undefined): Stream.Stream<RecordedEvent, ReadError, R> =>
  Stream.unwrap(Effect.map(
    positiveInt("batchSize", subscribe?.batchSize, options.config.subscriptionBatchSize),
    (batchSize) =>
      follow({
        from: subscribe?.after ?? start,
        batchSize,
        pollInterval: options.config.pollInterval,
        wakeup: options.wakeup,
        readBatch: (after) => options.readAll({ ...subscribe, after, batchSize }),
        onStart: options.onStart
      })
  ))
