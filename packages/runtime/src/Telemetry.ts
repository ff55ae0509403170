/**
 * Traces and logs for a Recount process (a node or a client), in one layer: OpenTelemetry tracing
 * through `@effect/opentelemetry`, and the log format. Provide it below everything else, so that
 * the services built on it see tracing on:
 *
 * ```ts
 * const Node = RecountServer.layer.pipe(..., Layer.provideMerge(Database.layer()), Layer.provide(Telemetry.layerFromEnv))
 * ```
 *
 * With tracing on, Recount makes a span per dispatched command (and per client dispatch), per
 * append, per projection batch and per workflow activity; the trace travels from the client
 * through the cluster, and every appended event records it in its metadata (`traceId`,
 * `spanId`). With tracing off (the default) Recount makes none of its spans, and a trace a
 * client sends is still recorded with the events.
 *
 * An application with an OpenTelemetry set-up of its own provides its tracer and
 * `Tracing.layer({ enabled: true })` (`@recount/core/Tracing`) instead.
 *
 * @since 0.1.0
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Tracing from "@recount/core/Tracing"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/**
 * How a process reports.
 *
 * @since 0.1.0
 */
export interface TelemetryOptions {
  /**
   * Where spans go; none means tracing is off. `layerFromEnv` builds an OTLP/HTTP exporter for
   * `OTEL_EXPORTER_OTLP_ENDPOINT`; tests pass an in-memory one.
   */
  readonly spanProcessor?: SpanProcessor | ReadonlyArray<SpanProcessor> | undefined
  /** The `service.name` of the spans; defaults to `recount`. */
  readonly serviceName?: string | undefined
  /** `pretty` (the default), `json` (one object per line, with the trace and span ids), or `logfmt`. */
  readonly logFormat?: LogFormat | undefined
  /** The least severe level logged; defaults to `Info`. */
  readonly logLevel?: LogLevel.LogLevel | undefined
}

/** @since 0.1.0 */
export type LogFormat = "pretty" | "json" | "logfmt"

/**
 * SQL statements outside any trace are not recorded: a node's pollers, heartbeats and the
 * cluster's bookkeeping would otherwise send a trace each, many a second. A trace starts at a
 * client, a command, a projection batch or a workflow activity, and the statements it runs are in it.
 */
const rootSqlSampler: Sampler = {
  shouldSample: (_context, _traceId, spanName) => ({
    decision: spanName.startsWith("sql.") ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED
  }),
  toString: () => "RecountRootSqlSampler"
}

const traceOf = (context: FiberRefs.FiberRefs) =>
  Context.getOption(FiberRefs.getOrDefault(context, FiberRef.currentContext), Tracer.ParentSpan)

/**
 * One JSON object per line: `timestamp`, `level`, `message`, `fiberId`, the log annotations as
 * fields (the command path adds `commandId`), `traceId` and `spanId` when tracing is on, and
 * `cause` when there is one.
 *
 * @since 0.1.0
 */
export const jsonLogger = (options?: { readonly withTrace?: boolean | undefined }) =>
  Logger.withConsoleLog(Logger.make((log) => {
    const structured = Logger.structuredLogger.log(log)
    const line: Record<string, unknown> = {
      timestamp: structured.timestamp,
      level: structured.logLevel,
      message: structured.message,
      fiberId: structured.fiberId
    }
    if (options?.withTrace) {
      const span = traceOf(log.context)
      if (Option.isSome(span)) {
        line.traceId = span.value.traceId
        line.spanId = span.value.spanId
      }
    }
    for (const key in structured.annotations) line[key] = structured.annotations[key]
    if (!Cause.isEmpty(log.cause)) line.cause = Cause.pretty(log.cause, { renderErrorCause: true })
    return Inspectable.stringifyCircular(line)
  }))

const loggerFor = (format: LogFormat, withTrace: boolean): Logger.Logger<unknown, void> => {
  switch (format) {
    case "json":
      return jsonLogger({ withTrace })
    case "logfmt":
      return Logger.withConsoleLog(Logger.logfmtLogger)
    case "pretty":
      return Logger.prettyLogger()
  }
}

/**
 * Tracing (when a span processor is given) and the log format.
 *
 * @since 0.1.0
 */
export const layer = (options: TelemetryOptions): Layer.Layer<never> => {
  const processors = options.spanProcessor === undefined ? [] : Array.isArray(options.spanProcessor) ? options.spanProcessor : [options.spanProcessor as SpanProcessor]
  const tracing = processors.length > 0
  const sdk = tracing
    ? NodeSdk.layer(() => ({
      resource: { serviceName: options.serviceName ?? "recount" },
      spanProcessor: processors,
      tracerConfig: { sampler: new ParentBasedSampler({ root: rootSqlSampler }) }
    }))
    : Layer.empty
  const format = options.logFormat ?? "pretty"
  const logs = Layer.mergeAll(
    Logger.replace(Logger.defaultLogger, loggerFor(format, tracing)),
    Logger.minimumLogLevel(options.logLevel ?? LogLevel.Info)
  )
  // The SDK's own output (its resource) is of no use above: only its tracer is.
  return Layer.provide(Layer.mergeAll(Tracing.layer({ enabled: tracing, logCommandIds: format === "json" }), logs), sdk)
}

/**
 * `RECOUNT_TRACING`: `otlp`, `console` (spans printed, for a look) or `off`; when unset, `otlp`
 * if `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the exporter reads it and the other standard
 * `OTEL_EXPORTER_OTLP_*` variables), else `off`. `OTEL_SERVICE_NAME` (default `recount`),
 * `RECOUNT_LOG_FORMAT` (`pretty`, `json`, `logfmt`) and `RECOUNT_LOG_LEVEL` (default `Info`).
 *
 * @since 0.1.0
 */
export const config = Config.all({
  tracing: Config.option(Config.literal("otlp", "console", "off")("RECOUNT_TRACING")),
  otlpEndpoint: Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")),
  serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("recount")),
  logFormat: Config.literal("pretty", "json", "logfmt")("RECOUNT_LOG_FORMAT").pipe(Config.withDefault("pretty" as const)),
  logLevel: Config.logLevel("RECOUNT_LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
})

/** @since 0.1.0 */
export const layerFromEnv: Layer.Layer<never, ConfigError.ConfigError> = Layer.unwrapEffect(Effect.map(config, (c) => {
  const tracing = Option.getOrElse(c.tracing, () => Option.isSome(c.otlpEndpoint) ? "otlp" as const : "off" as const)
  const spanProcessor = tracing === "otlp"
    ? new BatchSpanProcessor(new OTLPTraceExporter())
    : tracing === "console"
    ? new BatchSpanProcessor(new ConsoleSpanExporter())
    : undefined
  return layer({ spanProcessor, serviceName: c.serviceName, logFormat: c.logFormat, logLevel: c.logLevel })
}))
