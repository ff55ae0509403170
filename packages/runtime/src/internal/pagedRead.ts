import type { EventStoreService } from "@recount/core/EventStore"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import type { ReadError } from "@recount/core/EventStoreError"
import type * as Effect from "effect/Effect"

/**
 * An optional capability of a store: read a stream forward a page at a time, handing each page to
 * a synchronous callback that says whether to go on. A `Stream` run costs a few hundred
 * microseconds of CPU before its first event (about as much as the whole query), and waking an
 * aggregate reads at least one; this path reads the same rows with one effect per page.
 *
 * The key is global (`Symbol.for`) so that a store package provides it without depending on the
 * runtime; `@recount/postgres` does. Stores without it are read through `readStream`.
 */
export const key: unique symbol = Symbol.for("@recount/EventStore/readPages") as never

export type ReadPages = (
  streamName: string,
  options: { readonly tenant: string; readonly fromVersion: number },
  onPage: (events: ReadonlyArray<RecordedEvent>) => boolean
) => Effect.Effect<void, ReadError>

export const of = (store: EventStoreService): ReadPages | undefined => {
  const f = (store as unknown as { readonly [key]?: unknown })[key]
  return typeof f === "function" ? f as ReadPages : undefined
}
