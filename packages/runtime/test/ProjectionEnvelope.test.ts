/**
 * The envelopes a projection gets come from the store's reads, which select `recorded_at` as
 * milliseconds instead of the timestamp's text: the `Date` must be the one `pg` makes from the
 * timestamp itself (whole milliseconds, rounded down), for every read path and every instant,
 * before 1970 included. `readAll` builds its events from array rows, each taking the event before's
 * strings and transaction id when equal: every field must still be the event's own.
 */
import { expect, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
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

  it.effect("readAll's events carry every field of their own, as readStream's do, across tenants, streams, types and transactions", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const run = globalThis.crypto.randomUUID().slice(0, 8)
      const a = `pages-${run}a`
      const b = `pages-${run}b`
      // One append of several events (one transaction), then neighbours that differ in one field each.
      yield* store.append(a, [
        { type: "Opened", data: { n: 1 }, metadata: { m: 1 }, correlationId: "c1", causationId: "k1" },
        { type: "Opened", data: { n: 2 } },
        { type: "Closed", data: { n: 3 }, schemaVersion: 2 }
      ])
      yield* store.append(a, [{ type: "Closed", data: { n: 4 } }], { tenant: "acme" })
      yield* store.append(b, [{ type: "Closed", data: { n: 5 } }], { tenant: "acme" })
      yield* store.append(b, [{ type: "Closed", data: { n: 6 } }, { type: "Opened", data: { n: 7 } }])
      yield* store.append(a, [{ type: "Opened", data: { n: 8 } }])
      const mine = (events: ReadonlyArray<RecordedEvent>) => events.filter((e) => e.streamName === a || e.streamName === b)
      const all = mine((yield* store.readAll({ batchSize: 100_000 })).events)
      const filtered = mine((yield* store.readAll({ eventTypes: ["Opened", "Closed"], batchSize: 100_000 })).events)
      const byStream = yield* Effect.forEach([[a, undefined], [a, "acme"], [b, "acme"], [b, undefined]] as const, ([stream, tenant]) =>
        Stream.runCollect(store.readStream(stream, { tenant })).pipe(Effect.map(Chunk.toReadonlyArray)))
      const expected = byStream.flat().sort((x, y) => x.globalPosition < y.globalPosition ? -1 : 1)
      expect(expected.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
      expect(all).toEqual(expected)
      expect(filtered).toEqual(expected)
      expect(all.map((e) => [e.tenant, e.streamName, e.type, e.transactionId === all[0]!.transactionId])).toEqual([
        ["default", a, "Opened", true],
        ["default", a, "Opened", true],
        ["default", a, "Closed", true],
        ["acme", a, "Closed", false],
        ["acme", b, "Closed", false],
        ["default", b, "Closed", false],
        ["default", b, "Opened", false],
        ["default", a, "Opened", false]
      ])
    }))
})
