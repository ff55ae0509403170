/**
 * The process's Effect metrics (Recount's, the cluster's, anything else registered) in the
 * Prometheus text format, for a node's `/metrics`. Values that are read rather than counted
 * (projection lag, workflow executions by state) are sampled from the database at each scrape.
 *
 * @since 0.1.0
 */
import * as Metrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import * as SqlClient from "@effect/sql/SqlClient"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Projections } from "./Projections.js"
import * as RecountMetrics from "./RecountMetrics.js"

/** @since 0.1.0 */
export interface PrometheusMetricsService {
  /** Samples the database-read gauges, then renders every metric. */
  readonly scrape: Effect.Effect<string>
}

/** @since 0.1.0 */
export class PrometheusMetrics extends Context.Tag("@recount/runtime/PrometheusMetrics")<PrometheusMetrics, PrometheusMetricsService>() {}

// The engine's reply to a workflow's `run` message is the encoded Exit of the workflow's result
// (`Complete` with the workflow's own Exit, or `Suspended`); no reply yet means running.
const workflowStatesSql = `
  SELECT substr(m.entity_type, 10) AS workflow,
    CASE
      WHEN r.payload IS NULL THEN 'running'
      WHEN r.payload::jsonb ->> '_tag' = 'Success' AND r.payload::jsonb #>> '{value,_tag}' = 'Suspended' THEN 'suspended'
      WHEN r.payload::jsonb ->> '_tag' = 'Success' AND r.payload::jsonb #>> '{value,exit,_tag}' = 'Success' THEN 'completed'
      ELSE 'failed'
    END AS state,
    count(*)::int AS n
  FROM cluster_messages m
  LEFT JOIN cluster_replies r ON r.request_id = m.id AND r.kind = 0
  WHERE m.entity_type LIKE 'Workflow/%' AND m.entity_type <> 'Workflow/-/DurableClock' AND m.tag = 'run' AND m.kind = 0
  GROUP BY 1, 2`

const workflowStates = ["running", "suspended", "completed", "failed"] as const

/**
 * Reads projection lag and parked events, and workflow executions by state, into their gauges.
 * Bounded by `timeout`; a sample that fails leaves the previous values.
 */
const sample = (
  projections: Option.Option<Projections["Type"]>,
  sql: Option.Option<SqlClient.SqlClient>,
  timeout: Duration.DurationInput
) =>
  Effect.gen(function*() {
    if (Option.isSome(projections)) {
      for (const status of yield* projections.value.status()) {
        const labels = { projection: status.name }
        RecountMetrics.labelled(RecountMetrics.projectionLagEvents, labels).unsafeUpdate(status.lagEvents, [])
        RecountMetrics.labelled(RecountMetrics.projectionLagSeconds, labels).unsafeUpdate(status.lagSeconds, [])
        RecountMetrics.labelled(RecountMetrics.projectionParked, labels).unsafeUpdate(status.parkedEvents, [])
      }
    }
    if (Option.isSome(sql)) {
      const rows = yield* sql.value.unsafe<{ workflow: string; state: string; n: number }>(workflowStatesSql).pipe(
        // The cluster's tables exist only once a cluster ran on this database.
        Effect.catchAll(() => Effect.succeed([]))
      )
      const counts = new Map<string, Map<string, number>>()
      for (const row of rows) {
        const byState = counts.get(row.workflow) ?? new Map<string, number>()
        byState.set(row.state, row.n)
        counts.set(row.workflow, byState)
      }
      for (const [workflow, byState] of counts) {
        for (const state of workflowStates) {
          RecountMetrics.labelled(RecountMetrics.workflowExecutions, { workflow, state }).unsafeUpdate(byState.get(state) ?? 0, [])
        }
      }
    }
  }).pipe(
    Effect.timeout(timeout),
    Effect.catchAllCause((cause) => Effect.logWarning("sampling metrics from the database failed", cause))
  )

/**
 * The renderer, sampling through the `Projections` and `SqlClient` in context when there are.
 *
 * @since 0.1.0
 */
export const layer = (options?: { readonly sampleTimeout?: Duration.DurationInput | undefined }): Layer.Layer<PrometheusMetrics> =>
  Layer.effect(PrometheusMetrics, Effect.gen(function*() {
    const producer = yield* Metrics.makeProducer.pipe(Effect.provide(Resource.layer({ serviceName: "recount" })))
    const projections = yield* Effect.serviceOption(Projections)
    const sql = yield* Effect.serviceOption(SqlClient.SqlClient)
    // No `target_info` and no scope labels: a node's metrics, plainly.
    const serializer = new PrometheusSerializer(undefined, false, undefined, true, true)
    const timeout = options?.sampleTimeout ?? Duration.seconds(10)
    return PrometheusMetrics.of({
      scrape: Effect.zipRight(
        sample(projections, sql, timeout),
        Effect.map(Effect.promise(() => producer.collect()), ({ resourceMetrics }) => serializer.serialize(resourceMetrics))
      )
    })
  }))
