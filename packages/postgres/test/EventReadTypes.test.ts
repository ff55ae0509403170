/**
 * Event reads take `int8` values (positions, versions) as their text and convert them themselves,
 * so a parser the application registered process-wide for `int8` (a number, say, which loses
 * precision past 2^53) changes nothing in the events the store returns.
 */
import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import Pg from "pg"

layer(TestDatabase.layerStores(), { excludeTestServices: true })("event reads and pg's type parsers", (it) => {
  it.effect("a process-wide int8 parser does not reach the events read", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const stream = `int8-${globalThis.crypto.randomUUID()}`
      yield* store.append(stream, [{ type: "Deposited", data: { n: 1 } }, { type: "Deposited", data: { n: 2 } }])
      const before = (yield* store.readAll({ batchSize: 100_000 })).events.filter((e) => e.streamName === stream)
      const previous = Pg.types.getTypeParser(20, "text")
      const after = yield* Effect.acquireUseRelease(
        // A parser no read could turn back into a position: any value it made would show.
        Effect.sync(() => Pg.types.setTypeParser(20, (text: string) => Number(text) + 0.5)),
        () =>
          Effect.gen(function*() {
            const all = (yield* store.readAll({ batchSize: 100_000 })).events.filter((e) => e.streamName === stream)
            const filtered = (yield* store.readAll({ eventTypes: ["Deposited"], batchSize: 100_000 })).events.filter((e) => e.streamName === stream)
            const forward = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readStream(stream)))
            return [all, filtered, forward]
          }),
        () => Effect.sync(() => Pg.types.setTypeParser(20, previous))
      )
      expect(before.map((e) => e.streamVersion)).toEqual([1, 2])
      for (const events of after) expect(events).toEqual(before)
    }))
})
