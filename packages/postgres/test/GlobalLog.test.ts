import { expect, layer } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Checkpoint from "@recount/core/Checkpoint"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import { EventStore } from "@recount/core/EventStore"
import * as EventStoreConfig from "@recount/core/EventStoreConfig"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as PgEventStore from "../src/PgEventStore.js"

const event = (n: number) => ({ type: "Deposited", data: { n } })

/** What Marten, Akka JDBC, Axon and Emmett once did: trust the position alone. */
const naiveRead = (after: bigint) =>
  Effect.flatMap(PgClient.PgClient, (sql) =>
    sql.unsafe<{ global_position: string }>(
      "SELECT global_position FROM recount_events WHERE global_position > $1 ORDER BY global_position",
      [String(after)]
    )).pipe(Effect.map((rows) => rows.map((r) => BigInt(r.global_position))))

/**
 * Runs `recount_append` inside a transaction on a reserved connection and keeps it open until
 * `release` completes, like a slow writer whose position was assigned early but commits late.
 */
const openAppend = (stream: string) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const conn = yield* sql.reserve
    yield* conn.executeRaw("BEGIN", [])
    const [row] = yield* conn.executeValues(
      `SELECT global_position FROM recount_append('default', $1, split_part($1, '-', 1), -1, '[{"i":"${globalThis.crypto.randomUUID()}","t":"Deposited","v":1,"d":{"n":0},"m":{}}]'::jsonb, NULL)`,
      [stream]
    )
    return { position: BigInt(row![0] as string), commit: conn.executeRaw("COMMIT", []) }
  })

layer(TestDatabase.layerStores(), { excludeTestServices: true, timeout: 60_000 })("global log (PostgreSQL)", (it) => {
  it.scoped("an event that commits late with a lower position is returned, never skipped", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      yield* store.append("fast-0", [event(-1)])
      const start = (yield* store.readAll({ batchSize: 1000 })).checkpoint
      const startPosition = start.position

      const slow = yield* openAppend("slow-a")
      const fast = yield* store.append("fast-b", [event(1)])
      expect(fast.globalPosition > slow.position).toBe(true)

      // While A is open: the safe reader returns nothing and does not move past A.
      const during = yield* store.readAll({ after: start, batchSize: 1000 })
      expect(during.events).toEqual([])
      expect(during.checkpoint).toEqual(start)
      // The naive reader already sees B and would checkpoint past A.
      const naiveDuring = yield* naiveRead(startPosition)
      expect(naiveDuring).toEqual([fast.globalPosition])

      yield* slow.commit
      const after = yield* store.readAll({ after: start, batchSize: 1000 })
      expect(after.events.map((e) => e.globalPosition)).toEqual([slow.position, fast.globalPosition])
      // Resuming from its checkpoint, the naive reader never finds A.
      expect(yield* naiveRead(naiveDuring[naiveDuring.length - 1]!)).toEqual([])
    }))

  it.scoped("orders by transaction id as a number when the id gains a digit", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const sql = yield* PgClient.PgClient
      const currentXid = Effect.map(sql.unsafe<{ x: string }>("SELECT pg_current_xact_id()::text AS x"), (r) => BigInt(r[0]!.x))
      // Each loop turn commits, so each uses up one transaction id.
      const burnUntil = (target: (xid: bigint) => boolean) =>
        Effect.gen(function*() {
          let xid = yield* currentXid
          while (!target(xid)) {
            const digits = xid.toString().length
            const gap = Number(10n ** BigInt(digits) - xid)
            yield* sql.unsafe(`DO $$ BEGIN FOR i IN 1..${Math.max(1, Math.min(gap, 5000))} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`)
            xid = yield* currentXid
          }
        })
      // A's id must sort after B's as text: A starts with a digit above 1, B has one more digit.
      yield* burnUntil((x) => x.toString()[0]! >= "2")
      const start = (yield* store.readAll({ batchSize: 100_000 })).checkpoint
      const slow = yield* openAppend("digits-a")
      const aDigits = (yield* currentXid).toString().length
      yield* burnUntil((x) => x.toString().length > aDigits)
      const fast = yield* store.append("digits-b", [event(1)])
      yield* slow.commit
      const first = yield* store.readAll({ after: start, batchSize: 1, categories: ["digits"] })
      const second = yield* store.readAll({ after: first.checkpoint, batchSize: 1, categories: ["digits"] })
      expect([...first.events, ...second.events].map((e) => e.streamName)).toEqual(["digits-a", "digits-b"])
      expect(second.events[0]!.globalPosition).toBe(fast.globalPosition)
      expect(first.events[0]!.transactionId.toString().length).toBeLessThan(second.events[0]!.transactionId.toString().length)
    }), { timeout: 60_000 })

  it.scoped("a subscription waits behind an open transaction and then delivers both events in commit order", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const from = (yield* store.readAll({ batchSize: 100_000 })).checkpoint
      const received = yield* store.subscribe({ after: from, categories: ["slow", "fast"] }).pipe(
        Stream.take(2),
        Stream.runCollect,
        Effect.fork
      )
      const slow = yield* openAppend("slow-c")
      const fast = yield* store.append("fast-d", [event(2)])
      yield* Effect.sleep("300 millis")
      expect(received.unsafePoll()).toBeNull()
      yield* slow.commit
      const events = Chunk.toReadonlyArray(yield* received.await.pipe(Effect.flatten, Effect.timeout("10 seconds")))
      expect(events.map((e) => e.globalPosition)).toEqual([slow.position, fast.globalPosition])
    }))

  it.scoped("12 concurrent writers with slow transactions: the follower equals the table, the naive reader skips", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const sql = yield* PgClient.PgClient
      const from = (yield* store.readAll({ batchSize: 100_000 })).checkpoint
      const total = 12 * 30
      const follower = yield* store.subscribe({ after: from, categories: ["busy"], batchSize: 25 }).pipe(
        Stream.take(total),
        Stream.runCollect,
        Effect.fork
      )
      // A naive follower polls by position alone, as fast as it can.
      let naiveLast = from.position
      const naiveSeen: Array<bigint> = []
      const naive = yield* Effect.gen(function*() {
        while (true) {
          const rows = yield* sql.unsafe<{ global_position: string; category: string }>(
            "SELECT global_position, category FROM recount_events WHERE global_position > $1 ORDER BY global_position",
            [String(naiveLast)]
          )
          for (const r of rows) {
            naiveLast = BigInt(r.global_position)
            if (r.category === "busy") naiveSeen.push(naiveLast)
          }
          yield* Effect.sleep("2 millis")
        }
      }).pipe(Effect.fork)
      // Writers hold their transaction open for a random moment after appending, so commits
      // land out of position order.
      yield* Effect.forEach(Array.from({ length: 12 }, (_, w) => w), (w) =>
        Effect.forEach(Array.from({ length: 30 }, (_, n) => n), (n) =>
          sql.withTransaction(Effect.gen(function*() {
            yield* sql.unsafe(
              `SELECT * FROM recount_append('default', $1, 'busy', -1, $2::jsonb, NULL)`,
              [`busy-${w}`, JSON.stringify([{ i: globalThis.crypto.randomUUID(), t: "Tick", v: 1, d: { w, n }, m: {} }])]
            )
            yield* Effect.sleep(`${Math.floor(Math.random() * 15)} millis`)
          })), { discard: true }), { concurrency: "unbounded", discard: true })
      const seen = Chunk.toReadonlyArray(yield* follower.await.pipe(Effect.flatten, Effect.timeout("30 seconds")))
      yield* Effect.sleep("100 millis")
      yield* naive.interruptAsFork(naive.id())
      const table = yield* sql.unsafe<{ event_id: string }>(
        "SELECT event_id FROM recount_events WHERE category = 'busy' ORDER BY transaction_id, global_position"
      )
      expect(seen.map((e: RecordedEvent) => e.eventId)).toEqual(table.map((r) => r.event_id))
      for (let w = 0; w < 12; w++) {
        expect(seen.filter((e) => e.streamName === `busy-${w}`).map((e) => e.streamVersion))
          .toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
      }
      // Evidence for the rule: trusting positions lost events that the fenced reader kept.
      expect(naiveSeen.length).toBeLessThan(total)
    }), { timeout: 60_000 })
})

/** Stores on a fresh database that poll for new events every `pollInterval` ms. */
const polling = (pollInterval: number) =>
  Layer.provideMerge(PgEventStore.layer, TestDatabase.layerStores()).pipe(
    Layer.provide(EventStoreConfig.layer({ pollInterval }))
  )

layer(polling(60_000), { excludeTestServices: true })("notifications (PostgreSQL)", (it) => {
  it.scoped("LISTEN/NOTIFY wakes a caught-up subscriber long before the polling interval", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const from = (yield* store.readAll({ batchSize: 100_000 })).checkpoint
      const got = yield* store.subscribe({ after: from }).pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* Effect.sleep("300 millis")
      // Another store (as if in another process): only a notification, or the 60 s poll, tells
      // the subscriber.
      const writer = yield* PgEventStore.make
      yield* writer.append("notify-1", [event(1)])
      const events = yield* got.await.pipe(Effect.flatten, Effect.timeout("5 seconds"))
      expect(Chunk.size(events)).toBe(1)
    }))
})

layer(polling(200), { excludeTestServices: true })("lost notifications (PostgreSQL)", (it) => {
  it.scoped("with its LISTEN connection killed, a subscriber still gets every event by polling", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const sql = yield* PgClient.PgClient
      const from = Checkpoint.start
      const got = yield* store.subscribe({ after: from, categories: ["lost"] }).pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      yield* Effect.sleep("300 millis")
      const killed = yield* sql.unsafe<{ ok: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
      )
      expect(killed.length).toBeGreaterThan(0)
      const writer = yield* PgEventStore.make
      yield* writer.append("lost-1", [event(1), event(2)])
      yield* writer.append("lost-2", [event(3)])
      const events = yield* got.await.pipe(Effect.flatten, Effect.timeout("10 seconds"))
      expect(Chunk.toReadonlyArray(events).map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3])
    }))
})
