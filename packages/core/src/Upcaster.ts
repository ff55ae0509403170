/**
 * Upcasters turn the stored data of an old schema version of an event type into the data of the
 * next version when the event is read, so old events stay readable without rewriting them.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Turns data of `type` at `fromVersion` into data at `fromVersion + 1`.
 *
 * @since 0.1.0
 */
export interface Upcaster {
  readonly type: string
  readonly fromVersion: number
  /** Receives the stored JSON data (decoded with `from` when given); returns the next version's JSON. */
  readonly upcast: (data: unknown) => unknown
  readonly from?: Schema.Schema<unknown, unknown> | undefined
}

/**
 * Makes an upcaster. With `from`, the old data is first decoded with that schema, so the function
 * gets typed input and a malformed old event is a decode error, not a crash.
 *
 * @since 0.1.0
 */
export const make: {
  <A, I>(options: {
    readonly type: string
    readonly fromVersion: number
    readonly from: Schema.Schema<A, I>
    readonly upcast: (data: A) => unknown
  }): Upcaster
  (options: { readonly type: string; readonly fromVersion: number; readonly upcast: (data: unknown) => unknown }): Upcaster
} = (options: {
  readonly type: string
  readonly fromVersion: number
  readonly from?: Schema.Schema<any, any>
  readonly upcast: (data: any) => unknown
}): Upcaster => ({
  type: options.type,
  fromVersion: options.fromVersion,
  upcast: options.upcast,
  from: options.from
})
