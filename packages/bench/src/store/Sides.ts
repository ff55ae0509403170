/**
 * The store workloads, as each implementation provides them.
 *
 * @since 0.1.0
 */
import type { Side } from "../Measure.js"

/**
 * @since 0.1.0
 */
export interface StoreSides {
  /**
   * `writers` concurrent writers, each on a stream of its own that no one else writes, appending
   * `batch` events at a time with the exact expected version.
   */
  readonly appends: (writers: number, batch: number) => Side
  /** Reads the whole stream forward, again and again; it must hold exactly `length` events. */
  readonly readStream: (streamName: string, length: number) => Side
  /** Reads the first `events` events of the global log from the start, again and again. */
  readonly readAll: (events: number, batchSize: number) => Side
}
