import { expect, it, layer } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { EventStore } from "@recount/core/EventStore"
import * as Tracing from "@recount/core/Tracing"
import { BankAccount, Deposit, Open } from "@recount/testing/TestAggregates"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { vi } from "vitest"
import { CommandBus } from "../src/CommandBus.js"
import * as EventWorkflow from "../src/EventWorkflow.js"
import * as PrometheusMetrics from "../src/PrometheusMetrics.js"
import * as RecountNode from "../src/RecountNode.js"
import * as Telemetry from "../src/Telemetry.js"
import * as Workflows from "../src/Workflows.js"
import { eventually, fresh } from "./support/balances.js"

const Welcome = EventWorkflow.make({ name: "Welcome", payload: { accountId: Schema.String } })
const WelcomeLive = Welcome.toLayer((payload) =>
  EventWorkflow.dispatch(BankAccount, payload.accountId, new Deposit({ amount: 1 }), { step: "gift" }).pipe(Effect.orDie, Effect.asVoid))

const exporter = new InMemorySpanExporter()

const Live = PrometheusMetrics.layer().pipe(
  Layer.provideMerge(RecountNode.layerSingle({
    aggregates: [BankAccount],
    workflows: [Workflows.register(Welcome, WelcomeLive)],
    triggers: [EventWorkflow.trigger(Welcome, {
      events: BankAccount.events,
      eventTypes: ["Opened"],
      payload: (_event, envelope) => ({ accountId: envelope.streamName.slice("account-".length) })
    })]
  })),
  Layer.provideMerge(TestDatabase.layerStores()),
  Layer.provideMerge(Telemetry.layer({ spanProcessor: new SimpleSpanProcessor(exporter) }))
)

const series = (text: string, name: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

layer(Live, { excludeTestServices: true, timeout: 180_000 })("workflow telemetry", (it) => {
  it.effect("a workflow activity has its span, in the trace of the command it dispatches, and the metrics count it", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("welcome")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: id }))
      const metrics = yield* PrometheusMetrics.PrometheusMetrics
      const text = yield* eventually(metrics.scrape, (t) => (series(t, `recount_workflow_executions{workflow="Welcome",state="completed"}`) ?? 0) >= 1, 60_000)
      expect(series(text, `recount_workflow_activities_total{workflow="Welcome",outcome="ok"}`)).toBeGreaterThanOrEqual(1)
      expect(series(text, `recount_workflow_executions{workflow="Welcome",state="failed"}`)).toBe(0)

      const activity = exporter.getFinishedSpans().find((s) => s.name === "recount.workflow.activity" && s.attributes["recount.aggregate_id"] === id)
      expect(activity?.attributes).toMatchObject({ "recount.workflow": "Welcome", "recount.step": "gift", "recount.aggregate": "account" })
      const traceId = activity!.spanContext().traceId
      const command = exporter.getFinishedSpans().find((s) => s.name === "recount.command" && s.attributes["recount.command_id"] === activity!.attributes["recount.command_id"])
      expect(command?.spanContext().traceId).toBe(traceId)
      expect(command?.parentSpanContext?.spanId).toBe(activity!.spanContext().spanId)
      // The gift's event records the activity's trace.
      const store = yield* EventStore
      const events = yield* store.readStream(`account-${id}`).pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
      const gift = events.find((e) => e.type === "Deposited")
      expect(gift?.metadata["traceId"]).toBe(traceId)
      expect(gift?.causationId).toBe(activity!.attributes["recount.command_id"])
    }))
})

const fromEnv = (env: Record<string, string>) =>
  Effect.provide(Tracing.Tracing, Telemetry.layerFromEnv.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))))

it.effect("layerFromEnv: tracing follows RECOUNT_TRACING, else OTEL_EXPORTER_OTLP_ENDPOINT; JSON logs annotate command ids", () =>
  Effect.gen(function*() {
    expect(yield* fromEnv({})).toEqual({ enabled: false, logCommandIds: false })
    expect(yield* fromEnv({ RECOUNT_TRACING: "console", RECOUNT_LOG_FORMAT: "json" })).toEqual({ enabled: true, logCommandIds: true })
    expect((yield* fromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" })).enabled).toBe(true)
    expect((yield* fromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", RECOUNT_TRACING: "off" })).enabled).toBe(false)
    expect(yield* Effect.flip(fromEnv({ RECOUNT_LOG_FORMAT: "xml" }))).toMatchObject({ _op: "InvalidData" })
  }))

it.effect("the JSON format writes one object per line, with the log's annotations as fields", () =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)))
    yield* Effect.log("hello").pipe(
      Effect.annotateLogs("commandId", "c-1"),
      Effect.provide(Telemetry.layer({ logFormat: "json" })),
      Effect.ensuring(Effect.sync(() => spy.mockRestore()))
    )
    expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ message: "hello", level: "INFO", commandId: "c-1", timestamp: expect.any(String) })])
  }))
