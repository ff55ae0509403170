import type { EventStoreService } from "@recount/core/EventStore"
import type { AppendResult, EventData } from "@recount/core/EventEnvelope"
import type { AppendError } from "@recount/core/EventStoreError"
import type * as ExpectedVersion from "@recount/core/ExpectedVersion"
import type * as Exit from "effect/Exit"

/**
 * An optional capability of a store: start an append now and hear its outcome through a callback,
 * with no effect to run. The direct command path (`internal/instance.ts`, `tryFast`) uses it to
 * append without a fiber hop; stores without it are appended to through `append`.
 *
 * The key is global (`Symbol.for`) so that a store package provides it without depending on the
 * runtime; `@recount/postgres` does.
 */
export const key: unique symbol = Symbol.for("@recount/EventStore/appendNow") as never

export type AppendNow = (
  streamName: string,
  events: ReadonlyArray<EventData>,
  options: { readonly expectedVersion: ExpectedVersion.ExpectedVersion; readonly tenant: string; readonly commandId: string },
  /** Called once, later (never before `appendNow` returns). */
  done: (exit: Exit.Exit<AppendResult, AppendError>) => void
) => void

export const of = (store: EventStoreService): AppendNow | undefined => {
  const f = (store as unknown as { readonly [key]?: unknown })[key]
  return typeof f === "function" ? f as AppendNow : undefined
}
