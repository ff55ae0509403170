/**
 * Handlers for effects outside PostgreSQL (an email, a webhook, a message to another system).
 * They follow the log like projections, with their own checkpoint, retries and dead letters, but
 * they cannot share the checkpoint's transaction: delivery is at least once, and the handler gets
 * the event id as the idempotency key to hand to the system it calls.
 *
 * @since 0.1.0
 */
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import * as Effect from "effect/Effect"
import * as Projection from "./Projection.js"

/** @since 0.1.0 */
export interface Delivery {
  /** The same for every delivery of one event: the event id. */
  readonly idempotencyKey: string
}

/**
 * A side-effect handler. It runs one event per checkpoint by default, so a crash repeats at most
 * one call. It has no read model, so it cannot be rebuilt.
 *
 * @since 0.1.0
 */
export const make = <E>(
  options: Omit<Projection.Options<E>, "tables" | "migrations"> & {
    readonly handle: (event: E, envelope: RecordedEvent, delivery: Delivery) => Effect.Effect<void, unknown>
  }
): Projection.Projection<E> => {
  const handle = options.handle
  return Projection.build(
    { ...options, batchSize: options.batchSize ?? 1 },
    (events) => Effect.forEach(events, (d) => handle(d.event, d.envelope, { idempotencyKey: d.envelope.eventId }), { discard: true }),
    false
  )
}
