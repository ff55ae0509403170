import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Checkpoint from "../Checkpoint.js"
import type { AppendResult, RecordedEvent } from "../EventEnvelope.js"
import type { CommandRecord, EventStoreService, ReadAllOptions } from "../EventStore.js"
import type { EventStoreConfigShape } from "../EventStoreConfig.js"
import { type AppendError, EventIdConflict, WrongExpectedVersion } from "../EventStoreError.js"
import * as ExpectedVersion from "../ExpectedVersion.js"
import { subscription } from "./follow.js"
import { jsonEqual } from "./jsonEqual.js"
import * as Prepare from "./prepare.js"
import * as Wakeup from "./wakeup.js"

interface MemoryStream {
  readonly events: Array<RecordedEvent>
}

const key = (tenant: string, name: string) => `${tenant}\u0000${name}`

/** Filters shared by the batch read; `undefined` means no filter. */
const readAllFilter = (options: ReadAllOptions | undefined) => {
  const categories = options?.categories ? new Set(options.categories) : undefined
  const types = options?.eventTypes ? new Set(options.eventTypes) : undefined
  const tenant = options?.tenant
  return (e: RecordedEvent) =>
    (tenant === undefined || e.tenant === tenant) &&
    (categories === undefined || categories.has(e.category)) &&
    (types === undefined || types.has(e.type))
}

export const make = (config: EventStoreConfigShape): EventStoreService => {
  const streams = new Map<string, MemoryStream>()
  // Every append is its own committed transaction here, so transaction ids follow positions.
  const log: Array<RecordedEvent> = []
  const eventsById = new Map<string, RecordedEvent>()
  const commands = new Map<string, CommandRecord>()
  const wakeup = Wakeup.make()

  const versionOf = (s: MemoryStream | undefined) => s?.events.length ?? 0
  const lastPosition = (s: MemoryStream | undefined) => s && s.events.length > 0 ? s.events[s.events.length - 1]!.globalPosition : 0n

  const append: EventStoreService["append"] = (streamName, events, options) =>
    Effect.suspend((): Effect.Effect<AppendResult, AppendError> => {
      const prepared = Prepare.prepareAppend(streamName, events, options ?? {}, config)
      if (Either.isLeft(prepared)) return Effect.fail(prepared.left)
      const p = prepared.right
      const k = key(p.tenant, p.streamName)
      if (p.commandId !== null) {
        const done = commands.get(key(p.tenant, p.commandId))
        if (done) {
          return Effect.succeed<AppendResult>({
            streamVersion: done.streamVersion,
            firstVersion: done.firstVersion,
            globalPosition: done.globalPosition,
            alreadyApplied: true
          })
        }
      }
      // Idempotent retry: every id stored, with the same content, consecutively in this stream.
      if (p.events.length > 0 && p.events.some((e) => eventsById.has(e.eventId))) {
        let first: RecordedEvent | undefined
        for (let i = 0; i < p.events.length; i++) {
          const e = p.events[i]!
          const stored = eventsById.get(e.eventId)
          first ??= stored
          const same = stored !== undefined && first !== undefined && stored.tenant === p.tenant &&
            stored.streamName === p.streamName && stored.type === e.type &&
            stored.schemaVersion === e.schemaVersion && stored.streamVersion === first.streamVersion + i &&
            jsonEqual(stored.data, JSON.parse(e.dataJson))
          if (!same) return Effect.fail(new EventIdConflict({ eventId: e.eventId, streamName: p.streamName }))
        }
        const last = eventsById.get(p.events[p.events.length - 1]!.eventId)!
        return Effect.succeed<AppendResult>({
          streamVersion: last.streamVersion,
          firstVersion: first!.streamVersion,
          globalPosition: last.globalPosition,
          alreadyApplied: true
        })
      }
      const stream = streams.get(k)
      const actual = versionOf(stream)
      const expected = options?.expectedVersion ?? ExpectedVersion.any
      if (!ExpectedVersion.matches(expected, actual)) {
        return Effect.fail(new WrongExpectedVersion({ tenant: p.tenant, streamName: p.streamName, expected, actual }))
      }
      const target = stream ?? { events: [] }
      const recordedAt = new Date()
      for (let i = 0; i < p.events.length; i++) {
        const e = p.events[i]!
        const position = BigInt(log.length + 1)
        const recorded: RecordedEvent = {
          eventId: e.eventId,
          tenant: p.tenant,
          streamName: p.streamName,
          category: p.category,
          streamVersion: actual + i + 1,
          globalPosition: position,
          transactionId: position,
          type: e.type,
          schemaVersion: e.schemaVersion,
          data: JSON.parse(e.dataJson),
          metadata: JSON.parse(e.metadataJson),
          correlationId: e.correlationId,
          causationId: e.causationId,
          recordedAt
        }
        log.push(recorded)
        target.events.push(recorded)
        eventsById.set(e.eventId, recorded)
      }
      if (p.events.length > 0 && !stream) streams.set(k, target)
      const result: AppendResult = {
        streamVersion: versionOf(target),
        firstVersion: actual + 1,
        globalPosition: lastPosition(target),
        alreadyApplied: false
      }
      if (p.commandId !== null) {
        commands.set(key(p.tenant, p.commandId), {
          tenant: p.tenant,
          commandId: p.commandId,
          streamName: p.streamName,
          firstVersion: result.firstVersion,
          streamVersion: result.streamVersion,
          globalPosition: result.globalPosition
        })
      }
      if (p.events.length > 0) wakeup.signal()
      return Effect.succeed(result)
    })

  const lookup = (streamName: string, tenant: string | undefined) =>
    Effect.map(Prepare.resolveStream(streamName, tenant, config), (s) => streams.get(key(s.tenant, s.streamName)))

  const readStream: EventStoreService["readStream"] = (streamName, options) =>
    Stream.unwrap(Effect.gen(function*() {
      const stream = yield* lookup(streamName, options?.tenant)
      const { limit, fromVersion: from } = yield* Prepare.readStreamRange(options)
      const events = stream?.events ?? []
      const slice = options?.direction === "backward"
        ? events.slice(0, from === undefined ? events.length : Math.min(from, events.length)).reverse().slice(0, limit)
        : events.slice(Math.max((from ?? 1) - 1, 0)).slice(0, limit)
      return Stream.fromChunks(...Chunk.chunksOf(Chunk.unsafeFromArray(slice), config.readPageSize).pipe(Chunk.toReadonlyArray))
    }))

  const readAll: EventStoreService["readAll"] = (options) =>
    Effect.gen(function*() {
      if (options?.tenant !== undefined) yield* Prepare.tenant(options.tenant, config)
      const batchSize = yield* Prepare.positiveInt("batchSize", options?.batchSize, config.subscriptionBatchSize)
      const after = options?.after ?? Checkpoint.start
      const keep = readAllFilter(options)
      const events: Array<RecordedEvent> = []
      // Positions start at 1 and index the log directly.
      for (let i = Number(after.position); i < log.length && events.length < batchSize; i++) {
        const e = log[i]!
        if (Checkpoint.compare(Checkpoint.of(e), after) > 0 && keep(e)) events.push(e)
      }
      // A short batch has seen the whole log: move past the events that did not match too.
      const head = log[log.length - 1]
      const checkpoint = events.length < batchSize && head && Checkpoint.compare(Checkpoint.of(head), after) > 0
        ? Checkpoint.of(head)
        : events.length > 0 ? Checkpoint.of(events[events.length - 1]!) : after
      return { events, checkpoint }
    })

  return {
    append,
    streamVersion: (streamName, options) => Effect.map(lookup(streamName, options?.tenant), versionOf),
    readStream,
    readAll,
    subscribe: subscription({ config, wakeup, readAll }),
    appended: { count: wakeup.count, await: wakeup.awaitChange },
    findCommand: (commandId, options) =>
      Effect.gen(function*() {
        const tenant = yield* Prepare.tenant(options?.tenant, config)
        return Option.fromNullable(commands.get(key(tenant, commandId)))
      })
  }
}
