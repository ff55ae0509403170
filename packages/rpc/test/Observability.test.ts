import { expect, layer } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Aggregate from "@recount/core/Aggregate"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import { EventStore } from "@recount/core/EventStore"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as Tracing from "@recount/core/Tracing"
import * as Telemetry from "@recount/runtime/Telemetry"
import { eventually } from "@recount/testing/Eventually"
import { BankAccount, Deposit, Open, Withdraw } from "@recount/testing/TestAggregates"
import { fresh } from "@recount/testing/TestIds"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { vi } from "vitest"
import * as Client from "../src/RecountClient.js"
import { RecountClient } from "../src/RecountClient.js"
import * as RecountServer from "../src/RecountServer.js"
import { bootstrapKey, layerNode, Owners, withClient } from "./support/server.js"

class Note extends Schema.TaggedClass<Note>()("Note", { text: Schema.String }) {}
class Noted extends Schema.TaggedClass<Noted>()("Noted", { text: Schema.String }) {}

/** An aggregate that logs while it decides: the log line must carry the command's ids. */
const Notebook = Aggregate.make({
  name: "notebook",
  commands: [Note],
  events: [Noted],
  errors: [],
  initialState: 0,
  decide: (_state: number, command: Note) => Effect.as(Effect.log(`noting ${command.text}`), [new Noted({ text: command.text })]),
  evolve: (state: number) => state + 1
})

const node = layerNode({ aggregates: [BankAccount, Notebook], projections: [Owners] })

const eventsOf = (stream: string) =>
  Effect.flatMap(EventStore, (store) => store.readStream(stream).pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray)))

const dispatch = <A extends Aggregate.Any>(aggregate: A, id: string, command: Aggregate.CommandOf<A>, commandId: string) =>
  withClient(
    Effect.flatMap(RecountClient, (client) => client.dispatch(aggregate, id, command, { commandId })),
    { apiKey: bootstrapKey, transport: "websocket" }
  )

const exporter = new InMemorySpanExporter()
const spansOf = (commandId: string) =>
  exporter.getFinishedSpans().filter((s) => s.attributes["recount.command_id"] === commandId)
const named = (spans: ReadonlyArray<ReadableSpan>, name: string) => {
  const span = spans.find((s) => s.name === name)
  if (!span) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`)
  return span
}

// The node and the client share the process, its tracer and its exporter; the client still
// reaches the node over a real WebSocket.
const traced = Layer.provideMerge(node, Telemetry.layer({ spanProcessor: new SimpleSpanProcessor(exporter), logFormat: "json" }))

layer(traced, { excludeTestServices: true, timeout: 120_000 })("a traced node", (it) => {
  it.scoped("a client dispatch, the command, its append and the stored event share one trace", () =>
    Effect.gen(function*() {
      const id = fresh("traced")
      const commandId = `open-${id}`
      yield* dispatch(BankAccount, id, new Open({ owner: "Tracy" }), commandId)

      const spans = yield* eventually(Effect.sync(() => spansOf(commandId)), (s) => s.some((x) => x.name === "recount.command"))
      const client = named(spans, "recount.client.dispatch")
      const command = named(spans, "recount.command")
      const traceId = client.spanContext().traceId
      expect(command.spanContext().traceId).toBe(traceId)
      expect(command.parentSpanContext?.spanId).toBe(client.spanContext().spanId)
      expect(command.attributes).toMatchObject({
        "recount.aggregate": "account",
        "recount.aggregate_id": id,
        "recount.command": "Open",
        "recount.command_id": commandId
      })
      const append = exporter.getFinishedSpans().find((s) => s.name === "recount.append" && s.attributes["recount.stream"] === `account-${id}`)
      expect(append?.spanContext().traceId).toBe(traceId)

      const [event] = yield* eventsOf(`account-${id}`)
      expect(event?.metadata["traceId"]).toBe(traceId)
      // The span that appended it belongs to the command's trace, under the command's span.
      const appender = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === event?.metadata["spanId"])
      expect(appender?.spanContext().traceId).toBe(traceId)
      expect(event?.causationId).toBe(commandId)
      expect(event?.correlationId).toBe(commandId)

      // The projection's batch that applied it links back to the command's trace.
      const batch = yield* eventually(
        Effect.sync(() =>
          exporter.getFinishedSpans().find((s) =>
            s.name === "recount.projection.batch" && s.attributes["recount.projection"] === "owners" &&
            s.links.some((l) => l.context.traceId === traceId)
          )
        ),
        (s) => s !== undefined
      )
      expect(batch?.attributes["recount.events"]).toBeGreaterThanOrEqual(1)
      // Background statements (pollers, heartbeats) start no traces of their own.
      expect(exporter.getFinishedSpans().filter((s) => s.name.startsWith("sql.") && s.parentSpanContext === undefined)).toEqual([])
      expect(exporter.getFinishedSpans().some((s) => s.name.startsWith("sql.") && s.spanContext().traceId === batch?.spanContext().traceId)).toBe(true)
    }))

  it.scoped("commands sent without a trace each start their own, even over one connection", () =>
    Effect.gen(function*() {
      const id = fresh("rooted")
      const url = yield* RecountServer.url
      yield* Effect.gen(function*() {
        const client = yield* RecountClient
        yield* client.dispatch(BankAccount, id, new Open({ owner: "Ruth" }), { commandId: `open-${id}` })
        yield* client.dispatch(BankAccount, id, new Deposit({ amount: 1 }), { commandId: `deposit-${id}` })
      }).pipe(Effect.provide(Client.layer({ url, apiKey: bootstrapKey }).pipe(Layer.provide(Tracing.layer({ enabled: false })))))
      const opened = named(spansOf(`open-${id}`), "recount.command")
      const deposited = named(spansOf(`deposit-${id}`), "recount.command")
      expect(opened.parentSpanContext).toBeUndefined()
      expect(deposited.parentSpanContext).toBeUndefined()
      expect(opened.spanContext().traceId).not.toBe(deposited.spanContext().traceId)
    }))

  it.scoped("JSON log lines carry the trace id, the span id and the command id", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)))
      yield* Effect.addFinalizer(() => Effect.sync(() => spy.mockRestore()))
      const id = fresh("note")
      const commandId = `note-${id}`
      yield* dispatch(Notebook, id, new Note({ text: id }), commandId)
      const parsed = lines.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>]
        } catch {
          return []
        }
      })
      const line = parsed.find((l) => l.message === `noting ${id}`)
      expect(line).toMatchObject({ level: "INFO", commandId })
      expect(line?.timestamp).toEqual(expect.any(String))
      const client = named(spansOf(commandId), "recount.client.dispatch")
      expect(line?.traceId).toBe(client.spanContext().traceId)
      expect(line?.spanId).toMatch(/^[0-9a-f]{16}$/)
      expect(exporter.getFinishedSpans().some((s) => s.spanContext().spanId === line?.spanId)).toBe(true)
    }))

  it.scoped("/metrics shows commands, appends, conflicts, projection lag and resident aggregates, and the counters move", () =>
    Effect.gen(function*() {
      const url = yield* RecountServer.url
      const scrape = Effect.promise(async () => {
        const response = await fetch(`${url}/metrics`)
        return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
      })
      const value = (text: string, series: string) => {
        const line = text.split("\n").find((l) => l.startsWith(`${series} `))
        return line === undefined ? 0 : Number(line.slice(series.length + 1))
      }
      const before = yield* scrape
      expect(before.status).toBe(200)
      expect(before.type).toContain("text/plain")

      const id = fresh("metered")
      yield* dispatch(BankAccount, id, new Open({ owner: "Meg" }), `open-${id}`)
      yield* dispatch(BankAccount, id, new Deposit({ amount: 5 }), `deposit-${id}`)
      yield* dispatch(BankAccount, id, new Deposit({ amount: 5 }), `deposit-${id}`) // a retry
      yield* Effect.flip(dispatch(BankAccount, id, new Withdraw({ amount: 500 }), `withdraw-${id}`))
      // A stale writer: the store refuses an append at a version already taken.
      const store = yield* EventStore
      yield* Effect.flip(store.append(`account-${id}`, [{ type: "Deposited", data: { amount: 1 } }], { expectedVersion: ExpectedVersion.exact(1) }))

      const after = yield* scrape
      const delta = (series: string) => value(after.text, series) - value(before.text, series)
      expect(delta(`recount_commands_total{aggregate="account",outcome="ok"}`)).toBe(2)
      expect(delta(`recount_commands_total{aggregate="account",outcome="already_applied"}`)).toBe(1)
      expect(delta(`recount_commands_total{aggregate="account",outcome="rejected"}`)).toBe(1)
      expect(delta(`recount_appends_total{outcome="appended"}`)).toBe(2)
      expect(delta(`recount_appended_events_total`)).toBe(2)
      expect(delta(`recount_appends_total{outcome="conflict"}`)).toBe(1)
      expect(delta(`recount_command_duration_seconds_count{aggregate="account"}`)).toBe(4)
      expect(value(after.text, "recount_resident_aggregates")).toBeGreaterThanOrEqual(1)
      expect(after.text).toContain("# TYPE recount_commands_total counter")
      expect(after.text).toContain("# TYPE recount_command_duration_seconds histogram")

      // Projection lag is sampled at each scrape: it reaches zero once the projection caught up.
      const caughtUp = yield* eventually(scrape, (s) => s.text.includes(`recount_projection_lag_events{projection="owners"} 0`))
      expect(value(caughtUp.text, `recount_projection_batches_total{projection="owners"}`)).toBeGreaterThanOrEqual(1)
    }))
})

// Tracing off on the node: no spans of its own, but the caller's trace still reaches the events.
layer(node, { excludeTestServices: true, timeout: 120_000 })("an untraced node", (it) => {
  it.scoped("records the trace a client sends with the events of its command", () =>
    Effect.gen(function*() {
      const id = fresh("untraced")
      const caller = yield* Effect.makeSpanScoped("caller")
      yield* dispatch(BankAccount, id, new Open({ owner: "Una" }), `open-${id}`).pipe(Effect.withParentSpan(caller))
      const [event]: ReadonlyArray<RecordedEvent> = yield* eventsOf(`account-${id}`)
      expect(event?.metadata).toEqual({ traceId: caller.traceId, spanId: caller.spanId })
      expect(event?.causationId).toBe(`open-${id}`)
    }))

  it.scoped("records the trace of a traceparent header on the HTTP face", () =>
    Effect.gen(function*() {
      const id = fresh("http")
      const url = yield* RecountServer.url
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
      const status = yield* Effect.promise(() =>
        fetch(`${url}/v1/default/aggregates/account/${id}/commands`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${bootstrapKey}`,
            "content-type": "application/json",
            "idempotency-key": `open-${id}`,
            traceparent: `00-${traceId}-00f067aa0ba902b7-01`
          },
          body: JSON.stringify({ _tag: "Open", owner: "Hal" })
        }).then((r) => r.status))
      expect(status).toBe(200)
      const [event] = yield* eventsOf(`account-${id}`)
      expect(event?.metadata).toEqual({ traceId, spanId: "00f067aa0ba902b7" })
    }))

  it.scoped("a client's correlation id is recorded with the events", () =>
    Effect.gen(function*() {
      const id = fresh("correlated")
      yield* withClient(
        Effect.flatMap(RecountClient, (client) => client.dispatch(BankAccount, id, new Open({ owner: "Cora" }), { commandId: `open-${id}`, correlationId: `checkout-${id}` })),
        { apiKey: bootstrapKey }
      )
      const [event] = yield* eventsOf(`account-${id}`)
      expect(event).toMatchObject({ correlationId: `checkout-${id}`, causationId: `open-${id}` })
    }))

  it.scoped("without a caller's trace, events carry no trace metadata", () =>
    Effect.gen(function*() {
      const id = fresh("plain")
      yield* dispatch(BankAccount, id, new Open({ owner: "Pat" }), `open-${id}`)
      const [event] = yield* eventsOf(`account-${id}`)
      expect(event?.metadata).toEqual({})
    }))
})
