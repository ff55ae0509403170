/**
 * The runtime's metrics, as Effect metrics: every node's `/metrics` shows them in Prometheus text
 * (see `PrometheusMetrics`), and any `@effect/opentelemetry` metric reader exports them too.
 * Counters on the command path are updated synchronously, on labels built once per aggregate.
 *
 * | metric | labels | what |
 * |---|---|---|
 * | `recount_commands_total` | `aggregate`, `outcome` | Commands dispatched from this node, by outcome. |
 * | `recount_command_duration_seconds` | `aggregate` | Dispatch to reply, as the dispatching node saw it. |
 * | `recount_resident_aggregates` | | Aggregate states this node holds in memory. |
 * | `recount_projection_batches_total` | `projection` | Batches a projection instance on this node committed. |
 * | `recount_projection_events_total` | `projection` | Events in them. |
 * | `recount_projection_lag_events` | `projection` | Events after the projection's checkpoint (sampled at each scrape). |
 * | `recount_projection_lag_seconds` | `projection` | Age of the oldest of them. |
 * | `recount_projection_parked_events` | `projection` | Events parked in its dead letters. |
 * | `recount_workflow_activities_total` | `workflow`, `outcome` | Commands dispatched by workflow activities. |
 * | `recount_workflow_executions` | `workflow`, `state` | Executions by state: `running`, `suspended`, `completed`, `failed` (sampled at each scrape). |
 *
 * The store adds `recount_appends_total{outcome}` and `recount_appended_events_total`.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

/**
 * What became of a dispatched command: `ok`, `already_applied` (a retry), `rejected` (a domain
 * error), `conflict`, `timeout`, `unavailable`, `invalid`.
 *
 * @since 0.1.0
 */
export type CommandOutcome = "ok" | "already_applied" | "rejected" | "conflict" | "timeout" | "unavailable" | "invalid"

/** @since 0.1.0 */
export const commands = Metric.counter("recount_commands_total", { description: "Commands dispatched from this node, by aggregate and outcome", incremental: true })

/** From 1 ms to about 16 s. */
const latencyBoundaries = MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 15 })

/** @since 0.1.0 */
export const commandDuration = Metric.histogram("recount_command_duration_seconds", latencyBoundaries, "Dispatch to reply, by aggregate")

/** @since 0.1.0 */
export const residentAggregates = Metric.gauge("recount_resident_aggregates", { description: "Aggregate states this node holds in memory" })

/** @since 0.1.0 */
export const projectionBatches = Metric.counter("recount_projection_batches_total", { description: "Batches committed by projection instances on this node", incremental: true })

/** @since 0.1.0 */
export const projectionEvents = Metric.counter("recount_projection_events_total", { description: "Events in the batches committed on this node", incremental: true })

/** @since 0.1.0 */
export const projectionLagEvents = Metric.gauge("recount_projection_lag_events", { description: "Events after the projection's checkpoint" })

/** @since 0.1.0 */
export const projectionLagSeconds = Metric.gauge("recount_projection_lag_seconds", { description: "Age of the oldest event the projection has not applied" })

/** @since 0.1.0 */
export const projectionParked = Metric.gauge("recount_projection_parked_events", { description: "Events parked in the projection's dead letters" })

/** @since 0.1.0 */
export const workflowActivities = Metric.counter("recount_workflow_activities_total", { description: "Commands dispatched by workflow activities, by workflow and outcome", incremental: true })

/** @since 0.1.0 */
export const workflowExecutions = Metric.gauge("recount_workflow_executions", { description: "Workflow executions by state" })

/**
 * A metric with fixed labels, to update with `unsafeUpdate(value, [])`: built once, its labels
 * are found in the metric's cache by identity on every update.
 *
 * @since 0.1.0
 */
export const labelled = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, labels: Readonly<Record<string, string>>) =>
  Metric.taggedWithLabels(metric, Object.entries(labels).map(([key, value]) => MetricLabel.make(key, value)))

/**
 * The counters and timer of one aggregate's commands, labels built once.
 *
 * @since 0.1.0
 */
export const forAggregate = (aggregate: string) => {
  const outcomes = new Map<CommandOutcome, Metric.Metric.Counter<number>>()
  for (const outcome of ["ok", "already_applied", "rejected", "conflict", "timeout", "unavailable", "invalid"] as const) {
    outcomes.set(outcome, labelled(commands, { aggregate, outcome }))
  }
  const duration = labelled(commandDuration, { aggregate })
  return {
    record: (outcome: CommandOutcome, startedMillis: number) => {
      outcomes.get(outcome)!.unsafeUpdate(1, [])
      duration.unsafeUpdate((performance.now() - startedMillis) / 1000, [])
    }
  }
}
