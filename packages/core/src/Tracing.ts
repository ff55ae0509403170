/**
 * Whether Recount records spans, and how trace context rides with commands into the events they
 * append. Off by default: Effect's spans are cheap but not free, and the command path is measured
 * against plain pg. `Telemetry.layer` (`@recount/runtime`) turns it on together with an exporter.
 *
 * Services read the setting once, when they are built: provide it below the node's layers.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** @since 0.1.0 */
export class Tracing extends Context.Reference<Tracing>()("@recount/core/Tracing", {
  defaultValue: (): {
    /** Recount makes its spans. */
    readonly enabled: boolean
    /**
     * A command's log lines are annotated with its `commandId`: about a microsecond a command,
     * so only when the logs are read by machines (the JSON format turns it on).
     */
    readonly logCommandIds: boolean
  } => ({ enabled: false, logCommandIds: false })
}) {}

/**
 * Tracing on or off, and command ids in logs, for the services built on top of this layer.
 *
 * @since 0.1.0
 */
export const layer = (options: { readonly enabled: boolean; readonly logCommandIds?: boolean | undefined }): Layer.Layer<never> =>
  Layer.succeed(Tracing, { enabled: options.enabled, logCommandIds: options.logCommandIds ?? false })

/**
 * The W3C `traceparent` of a span: how trace context crosses a process boundary.
 *
 * @since 0.1.0
 */
export const traceparent = (span: Tracer.AnySpan): string => `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/**
 * The span a caller handed over from outside (a client's `traceparent`), when no local span was
 * made since: what is propagated when this process does not trace. Local spans made with tracing
 * off (the cluster's and the HTTP server's own) lead nowhere, so they are skipped.
 *
 * @since 0.1.0
 */
export const external = (span: Option.Option<Tracer.AnySpan>): Tracer.ExternalSpan | undefined => {
  let current = Option.getOrUndefined(span)
  while (current !== undefined && current._tag === "Span") current = Option.getOrUndefined(current.parent)
  return current
}

/**
 * The metadata keys under which an event records the trace of the command that appended it.
 *
 * @since 0.1.0
 */
export const metadataKeys = { traceId: "traceId", spanId: "spanId" } as const

/**
 * An event's trace metadata for a span: `{ traceId, spanId }`.
 *
 * @since 0.1.0
 */
export const metadata = (span: Tracer.AnySpan): Readonly<Record<string, string>> => ({
  [metadataKeys.traceId]: span.traceId,
  [metadataKeys.spanId]: span.spanId
})

/**
 * The attributes of a command's spans, the same on the client and on the node.
 *
 * @since 0.1.0
 */
export const commandAttributes = (command: {
  readonly aggregate: string
  readonly aggregateId: string
  readonly command: unknown
  readonly commandId: string
}): Readonly<Record<string, unknown>> => ({
  "recount.aggregate": command.aggregate,
  "recount.aggregate_id": command.aggregateId,
  "recount.command": (command.command as { readonly _tag?: unknown })._tag,
  "recount.command_id": command.commandId
})
