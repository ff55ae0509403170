import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import * as PrometheusMetrics from "@recount/runtime/PrometheusMetrics"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * `GET /metrics`: the node's metrics in the Prometheus text format. Unauthenticated, as scrapers
 * expect: it shows counts, and the names of aggregates, projections and workflows.
 */
export const route = Layer.unwrapEffect(Effect.map(PrometheusMetrics.PrometheusMetrics, (metrics) =>
  HttpLayerRouter.add(
    "GET",
    "/metrics",
    Effect.map(metrics.scrape, (text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
  ))).pipe(Layer.provide(PrometheusMetrics.layer()))
