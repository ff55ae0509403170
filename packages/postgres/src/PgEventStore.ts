/**
 * The event store on PostgreSQL. One round trip per append (the `recount_append` function);
 * global reads fenced by transaction id so no reader skips an event that commits late.
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Checkpoint from "@recount/core/Checkpoint"
import type { AppendResult } from "@recount/core/EventEnvelope"
import { EventStore, type EventStoreService, type ReadAllOptions } from "@recount/core/EventStore"
import { EventStoreConfig } from "@recount/core/EventStoreConfig"
import {
  type AppendError,
  EventIdConflict,
  InvalidArgument,
  InvalidEvent,
  StoreUnavailable,
  WrongExpectedVersion
} from "@recount/core/EventStoreError"
import * as Kit from "@recount/core/EventStoreKit"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as StreamName from "@recount/core/StreamName"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { notifyChannel } from "./Migrations.js"
import { eventColumns, type EventRow, toRecordedEvent } from "./internal/rows.js"
import { sqlState, unavailable } from "./internal/sqlError.js"

const appendSql = "SELECT status, stream_version, global_position, first_version, conflict_event_id " +
  "FROM recount_append($1, $2, $3, $4, $5::jsonb, $6)"

interface AppendRow {
  readonly status: number
  readonly stream_version: string | null
  readonly global_position: string | null
  readonly first_version: string | null
  readonly conflict_event_id: string | null
}

const expectedCode = (expected: ExpectedVersion.ExpectedVersion): number => {
  switch (expected._tag) {
    case "Any":
      return -1
    case "NoStream":
      return -2
    case "StreamExists":
      return -3
    case "Exact":
      return expected.version
  }
}

/** The events as one JSON array; data and metadata were serialised once, during validation. */
const eventsJson = (events: ReadonlyArray<Kit.PreparedEvent>): string => {
  let json = "["
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    if (i > 0) json += ","
    json += `{"i":"${e.eventId}","t":${JSON.stringify(e.type)},"v":${e.schemaVersion},"d":${e.dataJson},"m":${e.metadataJson}`
    if (e.correlationId !== null) json += `,"c":${JSON.stringify(e.correlationId)}`
    if (e.causationId !== null) json += `,"k":${JSON.stringify(e.causationId)}`
    json += "}"
  }
  return json + "]"
}

/**
 * Builds the store on the `PgClient` in context. Run the migrations first (`Migrations.run`).
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const config = yield* EventStoreConfig
  const scope = yield* Effect.scope
  const wakeup = Kit.makeWakeup()

  // One LISTEN connection per store, started by the first subscriber. If it breaks, followers
  // still see new events through polling.
  const listen = yield* Effect.cached(
    sql.listen(notifyChannel).pipe(
      Stream.runForEach(() => Effect.sync(wakeup.signal)),
      Effect.catchAllCause((cause) => Effect.logWarning("LISTEN for new events failed; retrying", cause)),
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.forkIn(scope),
      Effect.asVoid
    )
  )

  const append: EventStoreService["append"] = (streamName, events, options) =>
    Effect.suspend((): Effect.Effect<AppendResult, AppendError> => {
      const prepared = Kit.prepareAppend(streamName, events, options ?? {}, config)
      if (Either.isLeft(prepared)) return Effect.fail(prepared.left)
      const p = prepared.right
      const expected = options?.expectedVersion ?? ExpectedVersion.any
      const params = [p.tenant, p.streamName, p.category, expectedCode(expected), eventsJson(p.events), p.commandId]
      return sql.unsafe<AppendRow>(appendSql, params).pipe(
        // Two appends racing with the same new event id or command id: the loser's insert hits the
        // unique index; run again and the stored result answers it.
        Effect.retry({ times: 2, while: (e) => sqlState(e) === "23505" }),
        Effect.mapError((e) =>
          // Class 22 is a data exception: input that got past validation but that PostgreSQL
          // refuses (a lone UTF-16 surrogate in a string, say). Nothing was stored.
          sqlState(e)?.startsWith("22")
            ? new InvalidEvent({ index: -1, field: "data", reason: `was refused by PostgreSQL: ${unavailable("append")(e).detail}` })
            : unavailable("append")(e)
        ),
        Effect.flatMap((rows): Effect.Effect<AppendResult, AppendError> => {
          const row = rows[0]
          if (!row) return Effect.fail(new StoreUnavailable({ operation: "append", detail: "recount_append returned no row" }))
          switch (row.status) {
            case 0:
            case 1:
            case 2:
              return Effect.succeed({
                streamVersion: Number(row.stream_version),
                firstVersion: Number(row.first_version),
                globalPosition: BigInt(row.global_position!),
                alreadyApplied: row.status !== 0
              })
            case 3:
              return Effect.fail(new WrongExpectedVersion({
                tenant: p.tenant,
                streamName: p.streamName,
                expected,
                actual: Number(row.stream_version)
              }))
            default:
              return Effect.fail(new EventIdConflict({ eventId: row.conflict_event_id ?? "", streamName: p.streamName }))
          }
        })
      )
    })

  const resolve = (streamName: string, tenant: string | undefined) =>
    Effect.gen(function*() {
      const t = yield* Kit.resolveTenant(tenant, config)
      const parsed = yield* StreamName.parse(streamName)
      return { tenant: t, streamName: parsed.streamName as string }
    })

  const streamVersion: EventStoreService["streamVersion"] = (streamName, options) =>
    Effect.flatMap(resolve(streamName, options?.tenant), (s) =>
      sql.unsafe<{ version: string }>(
        "SELECT version FROM recount_streams WHERE tenant = $1 AND stream_name = $2",
        [s.tenant, s.streamName]
      ).pipe(
        Effect.mapError(unavailable("streamVersion")),
        Effect.map((rows) => rows.length > 0 ? Number(rows[0]!.version) : 0)
      ))

  const forwardSql = `SELECT ${eventColumns} FROM recount_events ` +
    "WHERE tenant = $1 AND stream_name = $2 AND stream_version >= $3 ORDER BY stream_version LIMIT $4"
  const backwardSql = `SELECT ${eventColumns} FROM recount_events ` +
    "WHERE tenant = $1 AND stream_name = $2 AND stream_version <= $3 ORDER BY stream_version DESC LIMIT $4"

  const readStream: EventStoreService["readStream"] = (streamName, options) =>
    Stream.unwrap(Effect.gen(function*() {
      const s = yield* resolve(streamName, options?.tenant)
      const limit = yield* Kit.positiveInt("limit", options?.limit, Number.MAX_SAFE_INTEGER)
      const from = options?.fromVersion
      if (from !== undefined && (!Number.isSafeInteger(from) || from < 0)) {
        return yield* new InvalidArgument({ argument: "fromVersion", reason: `must be a non-negative integer, got ${from}` })
      }
      const backward = options?.direction === "backward"
      const page = config.readPageSize
      return Stream.paginateChunkEffect(
        { next: backward ? (from ?? Number.MAX_SAFE_INTEGER) : Math.max(from ?? 1, 1), left: limit },
        ({ left, next }) => {
          const size = Math.min(page, left)
          return sql.unsafe<EventRow>(backward ? backwardSql : forwardSql, [s.tenant, s.streamName, next, size]).pipe(
            Effect.mapError(unavailable("readStream")),
            Effect.map((rows) => {
              const events = rows.map(toRecordedEvent)
              const last = events[events.length - 1]
              const more = rows.length === size && left > size && last !== undefined
              return [
                Chunk.unsafeFromArray(events),
                more ? Option.some({ next: backward ? last.streamVersion - 1 : last.streamVersion + 1, left: left - size }) : Option.none()
              ] as const
            })
          )
        }
      )
    }))

  const readAll: EventStoreService["readAll"] = (options?: ReadAllOptions) =>
    Effect.gen(function*() {
      const batchSize = yield* Kit.positiveInt("batchSize", options?.batchSize, config.subscriptionBatchSize)
      const after = options?.after ?? Checkpoint.start
      const params: Array<unknown> = [String(after.transactionId), String(after.position)]
      let where = "(transaction_id, global_position) > ($1::xid8, $2::bigint) " +
        "AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
      if (options?.tenant !== undefined) {
        params.push(yield* Kit.resolveTenant(options.tenant, config))
        where += ` AND tenant = $${params.length}`
      }
      if (options?.categories !== undefined) {
        params.push(options.categories)
        where += ` AND category = ANY($${params.length}::text[])`
      }
      if (options?.eventTypes !== undefined) {
        params.push(options.eventTypes)
        where += ` AND event_type = ANY($${params.length}::text[])`
      }
      params.push(batchSize)
      const rows = yield* sql.unsafe<EventRow>(
        `SELECT ${eventColumns} FROM recount_events WHERE ${where} ORDER BY recount_events.transaction_id, recount_events.global_position LIMIT $${params.length}`,
        params
      ).pipe(Effect.mapError(unavailable("readAll")))
      const events = rows.map(toRecordedEvent)
      return { events, checkpoint: events.length > 0 ? Checkpoint.of(events[events.length - 1]!) : after }
    })

  const subscribe: EventStoreService["subscribe"] = (options) =>
    Stream.unwrap(Effect.map(
      Kit.positiveInt("batchSize", options?.batchSize, config.subscriptionBatchSize),
      (batchSize) =>
        Kit.follow({
          from: options?.after ?? Checkpoint.start,
          batchSize,
          pollInterval: config.pollInterval,
          wakeup,
          readBatch: (after) => readAll({ ...options, after, batchSize }),
          onStart: listen
        })
    ))

  const findCommand: EventStoreService["findCommand"] = (commandId, options) =>
    Effect.gen(function*() {
      const tenant = yield* Kit.resolveTenant(options?.tenant, config)
      const rows = yield* sql.unsafe<{ stream_name: string; first_version: string; last_version: string; global_position: string }>(
        "SELECT stream_name, first_version, last_version, global_position FROM recount_commands WHERE tenant = $1 AND command_id = $2",
        [tenant, commandId]
      ).pipe(Effect.mapError(unavailable("findCommand")))
      return Option.map(Option.fromNullable(rows[0]), (row) => ({
        tenant,
        commandId,
        streamName: row.stream_name,
        firstVersion: Number(row.first_version),
        streamVersion: Number(row.last_version),
        globalPosition: BigInt(row.global_position)
      }))
    })

  return EventStore.of({ append, streamVersion, readStream, readAll, subscribe, findCommand })
})

/**
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore, never, PgClient.PgClient> = Layer.scoped(EventStore, make)
