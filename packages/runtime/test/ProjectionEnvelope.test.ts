/**
 * The envelopes a projection gets come from the store's reads, which select `recorded_at` as
 * milliseconds instead of the timestamp's text: the `Date` must be the one `pg` makes from the
 * timestamp itself (whole milliseconds, rounded down), for every read path and every instant,
 * before 1970 included.
 */
import { expect, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

const instants = [
  "2026-11-30 12:30:25.370123+00",
  "2026-11-30 12:30:25.999999+00",
  "2026-11-30 12:30:26+00",
  "2000-02-29 23:59:59.000001+05:30",
  "1969-12-31 23:59:59.999500+00",
  "1960-06-15 08:00:00.123456+00"
]

layer(TestDatabase.layerStores(), { excludeTestServices: true, timeout: 120_000 })("event envelopes", (it) => {
  it.effect("recordedAt is the Date pg parses from the stored timestamp, on every read path", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const sql = yield* SqlClient.SqlClient
      const stream = `envelope-${globalThis.crypto.randomUUID()}`
      yield* store.append(stream, instants.map((_, i) => ({ type: "Stamped", data: { i } })))
      // The log is append-only (a trigger refuses updates); this session skips triggers to set the instants.
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql.unsafe("SET LOCAL session_replication_role = replica")
        for (const [i, instant] of instants.entries()) {
          yield* sql.unsafe("UPDATE recount_events SET recorded_at = $1::timestamptz WHERE stream_name = $2 AND stream_version = $3", [
            instant,
            stream,
            i + 1
          ])
        }
      }))
      const parsed = yield* sql.unsafe<{ recorded_at: Date }>(
        "SELECT recorded_at FROM recount_events WHERE stream_name = $1 ORDER BY stream_version",
        [stream]
      )
      const expected = parsed.map((r) => r.recorded_at.getTime())
      expect(expected.every(Number.isFinite)).toBe(true)

      const forward = yield* Stream.runCollect(store.readStream(stream)).pipe(Effect.map(Chunk.toReadonlyArray))
      const backward = yield* Stream.runCollect(store.readStream(stream, { direction: "backward" })).pipe(Effect.map(Chunk.toReadonlyArray))
      const all = (yield* store.readAll({ batchSize: 100_000 })).events.filter((e) => e.streamName === stream)
      const filtered = (yield* store.readAll({ eventTypes: ["Stamped"], batchSize: 100_000 })).events.filter((e) => e.streamName === stream)

      for (const events of [forward, [...backward].reverse(), all, filtered]) {
        expect(events.map((e) => e.recordedAt instanceof Date)).toEqual(instants.map(() => true))
        expect(events.map((e) => e.recordedAt.getTime())).toEqual(expected)
      }
    }))
})
