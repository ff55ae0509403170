/**
 * The behaviour every `EventStore`, `SnapshotStore` and `CheckpointStore` must have, as one
 * `@effect/vitest` suite. Recount runs it against the in-memory and the PostgreSQL stores; an
 * adapter author runs it against theirs:
 *
 * ```ts
 * EventStoreContract.run("my store", MyStores.layer)
 * ```
 *
 * @since 0.1.0
 */
import { expect, layer } from "@effect/vitest"
import * as Checkpoint from "@recount/core/Checkpoint"
import { CheckpointStore } from "@recount/core/CheckpointStore"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import * as EventRegistry from "@recount/core/EventRegistry"
import { EventStore } from "@recount/core/EventStore"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as Upcaster from "@recount/core/Upcaster"
import { SnapshotStore } from "@recount/core/SnapshotStore"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

let counter = 0
/** A stream name no other test uses. */
export const uniqueStream = (category = "account") =>
  `${category}-${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`

const event = (n: number, extra?: Record<string, unknown>) => ({ type: "Deposited", data: { amount: n, ...extra } })

const readAllOf = (streamName: string, tenant?: string) =>
  Effect.flatMap(EventStore, (store) => Stream.runCollect(store.readStream(streamName, { tenant }))).pipe(
    Effect.map(Chunk.toReadonlyArray)
  )

/** The whole global log, read from the start in small batches. */
export const readLog = (options?: { readonly batchSize?: number; readonly categories?: ReadonlyArray<string> }) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const all: Array<RecordedEvent> = []
    let after = Checkpoint.start
    while (true) {
      const batch = yield* store.readAll({ after, batchSize: options?.batchSize ?? 200, categories: options?.categories })
      all.push(...batch.events)
      if (batch.events.length === 0) return all
      after = batch.checkpoint
    }
  })

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number, currency: Schema.String }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}

/**
 * Registers the contract as a vitest suite named `name`, with the stores from `stores`.
 *
 * @since 0.1.0
 */
export const run = <E>(name: string, stores: Layer.Layer<EventStore | SnapshotStore | CheckpointStore, E>): void =>
  layer(stores, { excludeTestServices: true, timeout: 60_000 })(`${name}: event store contract`, (it) => {
    it.effect("appends events with consecutive versions and returns the new version and position", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = uniqueStream()
        const first = yield* store.append(stream, [event(1), event(2)], { expectedVersion: ExpectedVersion.noStream })
        expect(first.streamVersion).toBe(2)
        expect(first.firstVersion).toBe(1)
        expect(first.alreadyApplied).toBe(false)
        const second = yield* store.append(stream, [event(3)], { expectedVersion: ExpectedVersion.exact(2) })
        expect(second.streamVersion).toBe(3)
        expect(second.globalPosition > first.globalPosition).toBe(true)
        const events = yield* readAllOf(stream)
        expect(events.map((e) => e.streamVersion)).toEqual([1, 2, 3])
        expect(events.map((e) => (e.data as { amount: number }).amount)).toEqual([1, 2, 3])
        expect(events[2]!.globalPosition).toBe(second.globalPosition)
        expect(events[0]!.category).toBe("account")
        expect(events[0]!.schemaVersion).toBe(1)
        expect(events[0]!.recordedAt).toBeInstanceOf(Date)
        expect(yield* store.streamVersion(stream)).toBe(3)
      }))

    it.effect("stores every field of an event", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = uniqueStream()
        const eventId = globalThis.crypto.randomUUID()
        yield* store.append(stream, [{
          eventId,
          type: "Opened",
          schemaVersion: 3,
          data: { owner: "Ada", tags: ["a", "b"], nested: { ok: true } },
          metadata: { user: "u1" },
          correlationId: "corr-1",
          causationId: "cause-1"
        }])
        const [e] = yield* readAllOf(stream)
        expect(e).toMatchObject({
          eventId,
          type: "Opened",
          schemaVersion: 3,
          data: { owner: "Ada", tags: ["a", "b"], nested: { ok: true } },
          metadata: { user: "u1" },
          correlationId: "corr-1",
          causationId: "cause-1",
          streamName: stream,
          tenant: "default",
          streamVersion: 1
        })
      }))

    it.effect("checks every kind of expected version and reports stream, expected and actual", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = uniqueStream()
        const fresh = yield* Effect.flip(store.append(stream, [event(1)], { expectedVersion: ExpectedVersion.streamExists }))
        expect(fresh).toMatchObject({ _tag: "WrongExpectedVersion", streamName: stream, tenant: "default", actual: 0 })
        expect(fresh._tag === "WrongExpectedVersion" && fresh.expected._tag).toBe("StreamExists")
        const exactOnNew = yield* Effect.flip(store.append(stream, [event(1)], { expectedVersion: ExpectedVersion.exact(1) }))
        expect(exactOnNew).toMatchObject({ _tag: "WrongExpectedVersion", actual: 0 })
        yield* store.append(stream, [event(1)], { expectedVersion: ExpectedVersion.exact(0) })
        const noStream = yield* Effect.flip(store.append(stream, [event(2)], { expectedVersion: ExpectedVersion.noStream }))
        expect(noStream).toMatchObject({ _tag: "WrongExpectedVersion", actual: 1 })
        expect(noStream._tag === "WrongExpectedVersion" && noStream.expected._tag).toBe("NoStream")
        const stale = yield* Effect.flip(store.append(stream, [event(2)], { expectedVersion: ExpectedVersion.exact(5) }))
        expect(stale).toMatchObject({ _tag: "WrongExpectedVersion", actual: 1, expected: { _tag: "Exact", version: 5 } })
        expect(stale.message).toContain(stream)
        yield* store.append(stream, [event(2)], { expectedVersion: ExpectedVersion.streamExists })
        yield* store.append(stream, [event(3)], { expectedVersion: ExpectedVersion.any })
        yield* store.append(stream, [event(4)])
        expect(yield* store.streamVersion(stream)).toBe(4)
        expect((yield* readAllOf(stream)).length).toBe(4)
      }))

    it.effect("16 concurrent writers with exact versions: one winner per version, no gaps, nothing lost", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = uniqueStream()
        // Round one: all 16 race for version 1.
        const first = yield* Effect.forEach(
          Array.from({ length: 16 }, (_, w) => w),
          (w) => Effect.either(store.append(stream, [event(w, { writer: w, n: -1 })], { expectedVersion: ExpectedVersion.noStream })),
          { concurrency: "unbounded" }
        )
        expect(first.filter(Either.isRight).length).toBe(1)
        const losers = first.filter(Either.isLeft).map((e) => e.left)
        expect(losers.length).toBe(15)
        for (const l of losers) expect(l).toMatchObject({ _tag: "WrongExpectedVersion", actual: 1 })
        // Then each writer appends 5 events, rereading the version after every conflict.
        let conflicts = 0
        yield* Effect.forEach(Array.from({ length: 16 }, (_, w) => w), (w) =>
          Effect.forEach(Array.from({ length: 5 }, (_, n) => n), (n) =>
            Effect.gen(function*() {
              while (true) {
                const version = yield* store.streamVersion(stream)
                // Deciding takes time; let the other writers run in between.
                yield* Effect.yieldNow()
                const result = yield* Effect.either(
                  store.append(stream, [event(n, { writer: w, n })], { expectedVersion: ExpectedVersion.exact(version) })
                )
                if (Either.isRight(result)) return
                expect(result.left._tag).toBe("WrongExpectedVersion")
                conflicts++
              }
            })), { concurrency: "unbounded" })
        const events = yield* readAllOf(stream)
        expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 81 }, (_, i) => i + 1))
        const written = events.slice(1).map((e) => { const d = e.data as { writer: number; n: number }; return `${d.writer}/${d.n}` })
        expect(new Set(written).size).toBe(80)
        expect(conflicts).toBeGreaterThan(0)
      }))

    it.effect("appending the same event ids with the same content again stores nothing and returns the original", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = uniqueStream()
        const ids = [globalThis.crypto.randomUUID(), globalThis.crypto.randomUUID()]
        const events = ids.map((eventId, i) => ({ eventId, type: "Deposited", data: { amount: i, b: 1, a: 2 } }))
        const original = yield* store.append(stream, events, { expectedVersion: ExpectedVersion.noStream })
        const before = (yield* readLog()).length
        // Key order differs: content is compared as JSON values.
        const again = yield* store.append(stream, ids.map((eventId, i) => ({ eventId, type: "Deposited", data: { a: 2, b: 1, amount: i } })), {
          expectedVersion: ExpectedVersion.noStream
        })
        expect(again).toEqual({ ...original, alreadyApplied: true })
        expect((yield* readLog()).length).toBe(before)
        expect(yield* store.streamVersion(stream)).toBe(2)
      }))

    it.effect("an event id stored with other content, another stream or in part is a typed conflict", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = uniqueStream()
        const eventId = globalThis.crypto.randomUUID()
        yield* store.append(stream, [{ eventId, type: "Deposited", data: { amount: 1 } }])
        const changed = yield* Effect.flip(store.append(stream, [{ eventId, type: "Deposited", data: { amount: 2 } }]))
        expect(changed).toMatchObject({ _tag: "EventIdConflict", eventId })
        const elsewhere = yield* Effect.flip(store.append(uniqueStream(), [{ eventId, type: "Deposited", data: { amount: 1 } }]))
        expect(elsewhere).toMatchObject({ _tag: "EventIdConflict", eventId })
        const partial = yield* Effect.flip(store.append(stream, [
          { eventId, type: "Deposited", data: { amount: 1 } },
          { type: "Deposited", data: { amount: 3 } }
        ]))
        expect(partial._tag).toBe("EventIdConflict")
        expect(yield* store.streamVersion(stream)).toBe(1)
      }))

    it.effect("a retried command id returns the original result and appends nothing", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = uniqueStream()
        const commandId = `cmd-${globalThis.crypto.randomUUID()}`
        const original = yield* store.append(stream, [event(1), event(2)], { commandId, expectedVersion: ExpectedVersion.noStream })
        // The retry decided again and made other events: still nothing new.
        const retry = yield* store.append(stream, [event(9)], { commandId, expectedVersion: ExpectedVersion.exact(0) })
        expect(retry).toEqual({ ...original, alreadyApplied: true })
        expect(yield* store.streamVersion(stream)).toBe(2)
        const record = yield* store.findCommand(commandId)
        expect(Option.getOrThrow(record)).toMatchObject({ streamName: stream, firstVersion: 1, streamVersion: 2, globalPosition: original.globalPosition })
        expect(Option.isNone(yield* store.findCommand(commandId, { tenant: "other" }))).toBe(true)
        // A command that decided nothing is recorded too.
        const noop = yield* store.append(stream, [], { commandId: `${commandId}-noop` })
        expect(noop).toMatchObject({ streamVersion: 2, firstVersion: 3, alreadyApplied: false })
        expect((yield* store.append(stream, [event(5)], { commandId: `${commandId}-noop` })).alreadyApplied).toBe(true)
        expect(yield* store.streamVersion(stream)).toBe(2)
      }))

    it.effect("reads a stream forward, backward, from a version and with a limit, across pages", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = uniqueStream()
        for (let i = 0; i < 3; i++) {
          yield* store.append(stream, Array.from({ length: 400 }, (_, j) => event(i * 400 + j + 1)))
        }
        const versions = (s: Stream.Stream<RecordedEvent, unknown>) =>
          Effect.map(Stream.runCollect(s), (c) => Chunk.toReadonlyArray(c).map((e) => e.streamVersion))
        expect(yield* versions(store.readStream(stream))).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1))
        expect(yield* versions(store.readStream(stream, { direction: "backward", limit: 3 }))).toEqual([1200, 1199, 1198])
        expect(yield* versions(store.readStream(stream, { fromVersion: 1198 }))).toEqual([1198, 1199, 1200])
        expect(yield* versions(store.readStream(stream, { fromVersion: 600, limit: 700 }))).toHaveLength(601)
        expect(yield* versions(store.readStream(stream, { fromVersion: 100, limit: 550 }))).toHaveLength(550)
        expect(yield* versions(store.readStream(stream, { direction: "backward", fromVersion: 2 }))).toEqual([2, 1])
        expect(yield* versions(store.readStream(uniqueStream()))).toEqual([])
        const badLimit = yield* Effect.flip(Stream.runCollect(store.readStream(stream, { limit: 0 })))
        expect(badLimit).toMatchObject({ _tag: "InvalidArgument", argument: "limit" })
      }))

    it.effect("keeps tenants apart", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const stream = uniqueStream()
        yield* store.append(stream, [event(1)], { tenant: "acme", expectedVersion: ExpectedVersion.noStream })
        yield* store.append(stream, [event(2)], { tenant: "globex", expectedVersion: ExpectedVersion.noStream })
        expect((yield* readAllOf(stream, "acme")).map((e) => e.data)).toEqual([{ amount: 1 }])
        expect((yield* readAllOf(stream, "globex")).map((e) => e.tenant)).toEqual(["globex"])
        expect(yield* store.streamVersion(stream)).toBe(0)
        const acmeOnly = yield* store.readAll({ tenant: "acme", batchSize: 10_000 })
        expect(acmeOnly.events.every((e) => e.tenant === "acme")).toBe(true)
        expect(acmeOnly.events.some((e) => e.streamName === stream)).toBe(true)
      }))

    it.effect("reads the global log in batches by category and type, each event once", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const category = `cat${Math.random().toString(36).slice(2, 8)}`
        const a = uniqueStream(category)
        const b = uniqueStream(category)
        yield* store.append(a, [event(1), { type: "Withdrawn", data: { amount: 1 } }])
        yield* store.append(uniqueStream("othercat"), [event(2)])
        yield* store.append(b, [event(3), event(4)])
        const ofCategory = yield* readLog({ batchSize: 1, categories: [category] })
        expect(ofCategory.map((e) => e.streamName)).toEqual([a, a, b, b])
        const withdrawn = yield* store.readAll({ categories: [category], eventTypes: ["Withdrawn"], batchSize: 100 })
        expect(withdrawn.events.map((e) => e.type)).toEqual(["Withdrawn"])
        const log = yield* readLog({ batchSize: 7 })
        const ids = log.map((e) => e.eventId)
        expect(new Set(ids).size).toBe(ids.length)
        for (let i = 1; i < log.length; i++) {
          expect(Checkpoint.compare(Checkpoint.of(log[i - 1]!), Checkpoint.of(log[i]!))).toBe(-1)
        }
        const end = yield* store.readAll({ after: Checkpoint.of(log[log.length - 1]!) })
        expect(end.events).toEqual([])
        expect(end.checkpoint).toEqual(Checkpoint.of(log[log.length - 1]!))
      }))

    it.effect("a filtered read moves past the events that are not of its kind, but never past a full batch", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const category = `skip${Math.random().toString(36).slice(2, 8)}`
        const start = (yield* readLog({ batchSize: 10_000 })).map(Checkpoint.of).pop() ?? Checkpoint.start
        yield* store.append(uniqueStream(category), [event(1), { type: "Withdrawn", data: { amount: 1 } }, event(2)])
        const others = yield* store.append(uniqueStream("elsewhere"), [event(3), event(4)])
        const nothing = yield* store.readAll({ after: start, eventTypes: ["NeverWritten"], batchSize: 10 })
        expect(nothing.events).toEqual([])
        expect(nothing.checkpoint.position).toBe(others.globalPosition)
        const one = yield* store.readAll({ after: start, categories: [category], eventTypes: ["Withdrawn"], batchSize: 10 })
        expect(one.events.map((e) => e.type)).toEqual(["Withdrawn"])
        expect(one.checkpoint.position).toBe(others.globalPosition)
        // A full batch stops at its last event: what comes after is not read yet.
        const full = yield* store.readAll({ after: start, categories: [category], batchSize: 2 })
        expect(full.events.length).toBe(2)
        expect(full.checkpoint).toEqual(Checkpoint.of(full.events[1]!))
        const rest = yield* store.readAll({ after: full.checkpoint, categories: [category], batchSize: 2 })
        expect(rest.events.map((e) => e.data)).toEqual([{ amount: 2 }])
      }))

    it.effect("a subscription catches up, then follows new events", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const category = `sub${Math.random().toString(36).slice(2, 8)}`
        const stream = uniqueStream(category)
        yield* store.append(stream, [event(1), event(2)])
        const fiber = yield* store.subscribe({ categories: [category] }).pipe(
          Stream.take(5),
          Stream.runCollect,
          Effect.fork
        )
        yield* Effect.sleep("100 millis")
        yield* store.append(stream, [event(3)])
        yield* store.append(uniqueStream(category), [event(4), event(5)])
        const got = yield* fiber.await.pipe(Effect.flatten, Effect.timeout("10 seconds"))
        expect(Chunk.toReadonlyArray(got).map((e) => (e.data as { amount: number }).amount)).toEqual([1, 2, 3, 4, 5])
      }))

    it.effect("12 concurrent writers while a subscriber follows: it sees exactly the log, in order", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const category = `conc${Math.random().toString(36).slice(2, 8)}`
        const perWriter = 40
        const total = 12 * perWriter
        const follower = yield* store.subscribe({ categories: [category], batchSize: 17 }).pipe(
          Stream.take(total),
          Stream.runCollect,
          Effect.fork
        )
        yield* Effect.forEach(Array.from({ length: 12 }, (_, w) => w), (w) =>
          Effect.forEach(Array.from({ length: perWriter / 2 }, (_, n) => n), (n) =>
            store.append(`${category}-w${w}`, [event(n * 2, { w }), event(n * 2 + 1, { w })]), { discard: true }), {
          concurrency: "unbounded",
          discard: true
        })
        const seen = Chunk.toReadonlyArray(yield* follower.await.pipe(Effect.flatten, Effect.timeout("30 seconds")))
        const log = yield* readLog({ categories: [category] })
        expect(log.length).toBe(total)
        expect(seen.map((e) => e.eventId)).toEqual(log.map((e) => e.eventId))
        expect(new Set(seen.map((e) => e.eventId)).size).toBe(total)
        for (let w = 0; w < 12; w++) {
          const versions = seen.filter((e) => e.streamName === `${category}-w${w}`).map((e) => e.streamVersion)
          expect(versions).toEqual(Array.from({ length: perWriter }, (_, i) => i + 1))
        }
      }))

    it.effect("rejects bad input with a typed error and changes nothing", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const before = (yield* readLog()).length
        const stream = uniqueStream()
        const fails = (name: string, events: ReadonlyArray<unknown>, options?: { tenant?: string; commandId?: string }) =>
          Effect.flip(store.append(name, events as never, options))
        expect(yield* fails("", [event(1)])).toMatchObject({ _tag: "InvalidStreamName" })
        expect(yield* fails("nocategory", [event(1)])).toMatchObject({ _tag: "InvalidStreamName" })
        expect(yield* fails("-id", [event(1)])).toMatchObject({ _tag: "InvalidStreamName" })
        expect(yield* fails("account-", [event(1)])).toMatchObject({ _tag: "InvalidStreamName" })
        expect(yield* fails("account-a\u0000b", [event(1)])).toMatchObject({ _tag: "InvalidStreamName" })
        expect(yield* fails(`account-${"x".repeat(600)}`, [event(1)])).toMatchObject({ _tag: "InvalidStreamName" })
        expect(yield* fails(stream, [event(1)], { tenant: "" })).toMatchObject({ _tag: "InvalidArgument", argument: "tenant" })
        expect(yield* fails(stream, [event(1)], { commandId: "a\u0000" })).toMatchObject({ _tag: "InvalidArgument", argument: "commandId" })
        expect(yield* fails(stream, [event(1), { type: "", data: {} }])).toMatchObject({ _tag: "InvalidEvent", index: 1, field: "type" })
        expect(yield* fails(stream, [{ type: "T\u0000", data: {} }])).toMatchObject({ _tag: "InvalidEvent", field: "type" })
        expect(yield* fails(stream, [{ type: "T", data: { s: "a\u0000b" } }])).toMatchObject({ _tag: "InvalidEvent", field: "data.s" })
        expect(yield* fails(stream, [{ type: "T", data: { list: ["ok", "\ud800"] } }])).toMatchObject({ _tag: "InvalidEvent", field: "data.list[1]" })
        expect(yield* fails(stream, [{ type: "T", data: {}, metadata: { ["k\u0000"]: 1 } }])).toMatchObject({ _tag: "InvalidEvent", field: "metadata (a key)" })
        expect(yield* fails(stream, [{ type: "T", data: { n: 1n } }])).toMatchObject({ _tag: "InvalidEvent", field: "data" })
        expect(yield* fails(stream, [{ type: "T", data: undefined }])).toMatchObject({ _tag: "InvalidEvent", field: "data" })
        expect(yield* fails(stream, [{ type: "T", data: {}, metadata: [1] }])).toMatchObject({ _tag: "InvalidEvent", field: "metadata" })
        expect(yield* fails(stream, [{ type: "T", data: {}, eventId: "not-a-uuid" }])).toMatchObject({ _tag: "InvalidEvent", field: "eventId" })
        expect(yield* fails(stream, [{ type: "T", data: {}, schemaVersion: 0 }])).toMatchObject({ _tag: "InvalidEvent", field: "schemaVersion" })
        const id = globalThis.crypto.randomUUID()
        expect(yield* fails(stream, [{ type: "T", data: {}, eventId: id }, { type: "T", data: {}, eventId: id }]))
          .toMatchObject({ _tag: "InvalidEvent", field: "eventId" })
        const tooLarge = yield* fails(stream, [event(1), { type: "Big", data: { blob: "é".repeat(600_000) } }])
        expect(tooLarge).toMatchObject({ _tag: "EventTooLarge", index: 1, eventType: "Big", limit: 1024 * 1024 })
        expect(tooLarge._tag === "EventTooLarge" && tooLarge.bytes).toBeGreaterThan(1024 * 1024)
        expect(yield* store.streamVersion(stream)).toBe(0)
        expect((yield* readLog()).length).toBe(before)
      }))

    it.effect("stores SQL metacharacters and unicode in names and data verbatim", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const nasty = `'; DROP TABLE recount_events; -- "\\ %_ $1 ${"${x}"} ünïcødé 🎉`
        const stream = `account-${nasty}`
        const tenant = `t'${nasty}`.slice(0, 100)
        yield* store.append(stream, [{ type: `Type'${nasty}`, data: { text: nasty, [nasty]: nasty }, metadata: { m: nasty } }], { tenant })
        const [e] = yield* readAllOf(stream, tenant)
        expect(e).toMatchObject({ streamName: stream, tenant, type: `Type'${nasty}`, data: { text: nasty, [nasty]: nasty }, metadata: { m: nasty } })
      }))

    it.effect("decodes events with their schemas, upcasting old versions, and names undecodable ones", () =>
      Effect.gen(function*() {
        const store = yield* EventStore
        const registry = EventRegistry.make([Deposited, Withdrawn], {
          upcasters: [
            // Version 1 stored the amount in cents and had no currency.
            Upcaster.make({
              type: "Deposited",
              fromVersion: 1,
              from: Schema.Struct({ cents: Schema.Number }),
              upcast: (old) => ({ amount: old.cents / 100, currency: "EUR" })
            })
          ]
        })
        const stream = uniqueStream()
        const current = yield* registry.toEventData(new Deposited({ amount: 5, currency: "USD" }))
        expect(current.schemaVersion).toBe(2)
        yield* store.append(stream, [
          { type: "Deposited", schemaVersion: 1, data: { cents: 250 } },
          current,
          yield* registry.toEventData(new Withdrawn({ amount: 1 })),
          { type: "Withdrawn", data: { amount: "lots" } },
          { type: "Unknown", data: {} }
        ])
        const events = yield* readAllOf(stream)
        const decoded = events.map((e) => registry.decodeEither(e))
        expect(decoded.slice(0, 3).map((d) => Either.getOrThrow(d))).toEqual([
          new Deposited({ amount: 2.5, currency: "EUR" }),
          new Deposited({ amount: 5, currency: "USD" }),
          new Withdrawn({ amount: 1 })
        ])
        const bad = Either.flip(decoded[3]!).pipe(Either.getOrThrow)
        expect(bad).toMatchObject({ _tag: "EventDecodeError", eventId: events[3]!.eventId, eventType: "Withdrawn", schemaVersion: 1 })
        expect(bad.detail).toContain("amount")
        expect(Either.flip(decoded[4]!).pipe(Either.getOrThrow)).toMatchObject({ _tag: "EventDecodeError", eventType: "Unknown" })
      }))

    it.effect("keeps the latest snapshot of a stream", () =>
      Effect.gen(function*() {
        const snapshots = yield* SnapshotStore
        const stream = uniqueStream()
        expect(Option.isNone(yield* snapshots.load(stream))).toBe(true)
        yield* snapshots.save({ streamName: stream, version: 10, schemaVersion: 1, state: { balance: 10 } })
        yield* snapshots.save({ streamName: stream, version: 5, schemaVersion: 1, state: { balance: 5 } })
        expect(Option.getOrThrow(yield* snapshots.load(stream))).toMatchObject({ version: 10, schemaVersion: 1, state: { balance: 10 } })
        yield* snapshots.save({ streamName: stream, version: 20, schemaVersion: 2, state: { balance: 20 } })
        expect(Option.getOrThrow(yield* snapshots.load(stream))).toMatchObject({ version: 20, schemaVersion: 2 })
        expect(Option.isNone(yield* snapshots.load(stream, { tenant: "other" }))).toBe(true)
        expect(yield* Effect.flip(snapshots.load("bad"))).toMatchObject({ _tag: "InvalidStreamName" })
      }))

    it.effect("stores named checkpoints", () =>
      Effect.gen(function*() {
        const checkpoints = yield* CheckpointStore
        const name = `projection-${Math.random()}`
        expect(Option.isNone(yield* checkpoints.load(name))).toBe(true)
        yield* checkpoints.save(name, Checkpoint.make(7n, 42n))
        yield* checkpoints.save(name, Checkpoint.make(8n, 40n))
        expect(Option.getOrThrow(yield* checkpoints.load(name))).toEqual(Checkpoint.make(8n, 40n))
        expect(yield* Effect.flip(checkpoints.load(""))).toMatchObject({ _tag: "InvalidArgument" })
      }))
  })
