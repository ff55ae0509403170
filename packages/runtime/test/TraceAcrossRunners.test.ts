import { expect, it } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import { BankAccount, Open } from "@recount/testing/TestAggregates"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { CommandBus } from "../src/CommandBus.js"
import * as RecountNode from "../src/RecountNode.js"
import * as RunnerProcess from "./support/RunnerProcess.js"

// This process hosts no aggregates: every command crosses the runner socket to the runner
// process, as the trace (a header, with tracing off on both sides) and the correlation id must.
it.live("a caller's trace and correlation id cross the cluster to the runner that appends the events", () =>
  Effect.gen(function*() {
    const url = yield* TestDatabase.TestDatabaseUrl
    const script = yield* RunnerProcess.bundle
    yield* RunnerProcess.start(script, { name: "runner-traced", databaseUrl: url })
    yield* Effect.gen(function*() {
      const bus = yield* CommandBus
      const caller = Tracer.externalSpan({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" })
      yield* bus.dispatch(BankAccount, "far-1", new Open({ owner: "Far" }), { commandId: "far-1-open", correlationId: "signup-far-1", timeout: "20 seconds" }).pipe(
        Effect.retry({ while: (e) => e._tag === "CommandTimeout" || e._tag === "AggregateUnavailable", times: 10 }),
        Effect.withParentSpan(caller)
      )
      const store = yield* EventStore
      const [event] = yield* store.readStream("account-far-1").pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
      expect(event).toMatchObject({
        metadata: { traceId: caller.traceId, spanId: caller.spanId },
        correlationId: "signup-far-1",
        causationId: "far-1-open"
      })
    }).pipe(Effect.provide(RecountNode.layerClient({ aggregates: [BankAccount] })))
  }).pipe(Effect.provide(TestDatabase.layerStores()), Effect.scoped), { timeout: 180_000 })
