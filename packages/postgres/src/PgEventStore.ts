/**
 * The event store on PostgreSQL. One round trip per append (the `recount_append` function);
 * global reads fenced by transaction id so no reader skips an event that commits late.
 *
 * @since 0.1.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Checkpoint from "@recount/core/Checkpoint"
import type { AppendResult, EventData, RecordedEvent } from "@recount/core/EventEnvelope"
import { type AppendOptions, EventStore, type EventStoreService, type ReadAllOptions } from "@recount/core/EventStore"
import { EventStoreConfig } from "@recount/core/EventStoreConfig"
import { type AppendError, type ReadError, StoreUnavailable } from "@recount/core/EventStoreError"
import * as Kit from "@recount/core/EventStoreKit"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as Tracing from "@recount/core/Tracing"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { notifyChannel } from "./Migrations.js"
import * as PgPool from "./PgPool.js"
import { type Appender, AppendCall, expectedCode } from "./internal/append.js"
import { query, type QueryError, queryValues } from "./internal/query.js"
import { eventColumnCount, eventColumns, type EventValues, makePageReader } from "./internal/rows.js"

/** `recount_appends_total{outcome}`: `appended`, `already_applied`, `conflict` (a wrong expected version), `error`. */
const appends = Metric.counter("recount_appends_total", { description: "Appends to the event store from this process, by outcome", incremental: true })
const appendedEvents = Metric.counter("recount_appended_events_total", { description: "Events appended from this process", incremental: true })
const appendOutcomes = {
  appended: Metric.tagged(appends, "outcome", "appended"),
  alreadyApplied: Metric.tagged(appends, "outcome", "already_applied"),
  conflict: Metric.tagged(appends, "outcome", "conflict"),
  error: Metric.tagged(appends, "outcome", "error")
}
const noTags: Array<MetricLabel.MetricLabel> = []

const unavailable = (operation: string) => (e: QueryError) => new StoreUnavailable({ operation, detail: e.message })

const noOptions = {}

/** Log order: by transaction id, then position. */
const isBefore = (a: RecordedEvent, b: RecordedEvent): boolean =>
  a.transactionId < b.transactionId || (a.transactionId === b.transactionId && a.globalPosition < b.globalPosition)

/**
 * Builds the store on the `PgPool` (appends and reads) and the `PgClient` on it (LISTEN) in
 * context. Run the migrations first (`Migrations.run`).
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const pool = yield* PgPool.PgPool
  const config = yield* EventStoreConfig
  const tracing = yield* Tracing.Tracing
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

  // Appends notify after their commit, at most one NOTIFY per 50 ms per store: followers in this
  // process are woken at once, others within 50 ms plus a round trip, and commits never queue behind the
  // server-wide lock that a notifying commit takes. A NOTIFY lost to a crash costs one polling
  // interval, never an event.
  const notifyInterval = 50
  let notifyPending = false
  let notifyRunning = false
  const notifyLoop: Effect.Effect<void> = Effect.suspend(() => {
    if (!notifyPending) {
      notifyRunning = false
      return Effect.void
    }
    notifyPending = false
    return query(pool, `NOTIFY ${notifyChannel}, '1'`, []).pipe(
      Effect.ignore,
      // Appends in the next 50 ms share the next NOTIFY: at most ~20 a second per
      // store, whatever the append rate.
      Effect.zipRight(Effect.sleep(notifyInterval)),
      Effect.zipRight(notifyLoop)
    )
  })
  const notifyAppended = () => {
    wakeup.signal()
    notifyPending = true
    if (!notifyRunning) {
      notifyRunning = true
      Effect.runFork(notifyLoop)
    }
  }

  const appender: Appender = {
    pool,
    named: PgPool.namedStatements(pool),
    appended: (events) => {
      notifyAppended()
      appendOutcomes.appended.unsafeUpdate(1, noTags)
      appendedEvents.unsafeUpdate(events, noTags)
    },
    alreadyApplied: () => appendOutcomes.alreadyApplied.unsafeUpdate(1, noTags),
    conflict: () => appendOutcomes.conflict.unsafeUpdate(1, noTags),
    failed: () => appendOutcomes.error.unsafeUpdate(1, noTags)
  }

  // Untraced, an append is one Effect.async around the driver's callbacks (see internal/append.ts);
  // validation runs when the effect runs, so running it again prepares (and ids) events afresh.
  const append: EventStoreService["append"] = (streamName, events, options) =>
    tracing.enabled ? tracedAppend(streamName, events, options) : Effect.async<AppendResult, AppendError>((resume) => {
      const prepared = Kit.prepareAppend(streamName, events, options ?? noOptions, config)
      if (prepared._tag === "Left") resume(Effect.fail(prepared.left))
      else new AppendCall(appender, prepared.right, options?.expectedVersion ?? ExpectedVersion.any, resume).send()
    })

  // The runtime's direct command path appends through this callback form (no effect, no fiber
  // hop); an `AppendCall` answers with `Effect.succeed`/`Effect.fail`, which are exits.
  const appendNow = (
    streamName: string,
    events: ReadonlyArray<EventData>,
    options: AppendOptions,
    done: (exit: Exit.Exit<AppendResult, AppendError>) => void
  ): void => {
    const prepared = Kit.prepareAppend(streamName, events, options, config)
    if (prepared._tag === "Left") {
      const failure = Exit.fail(prepared.left)
      queueMicrotask(() => done(failure))
      return
    }
    new AppendCall(appender, prepared.right, options.expectedVersion ?? ExpectedVersion.any, (effect) => done(effect as Exit.Exit<AppendResult, AppendError>)).send()
  }

  const tracedAppend: EventStoreService["append"] = (streamName, events, options) =>
    Effect.suspend(() => {
      const prepared = Kit.prepareAppend(streamName, events, options ?? noOptions, config)
      if (prepared._tag === "Left") return Effect.fail(prepared.left)
      const p = prepared.right
      const expected = options?.expectedVersion ?? ExpectedVersion.any
      return Effect.withSpan(
        Effect.async<AppendResult, AppendError>((resume) => new AppendCall(appender, p, expected, resume).send()),
        "recount.append",
        {
          kind: "client",
          attributes: {
            "db.system": "postgresql",
            "recount.tenant": p.tenant,
            "recount.stream": p.streamName,
            "recount.events": p.events.length,
            "recount.expected_version": expectedCode(expected)
          }
        }
      )
    })

  const resolve = (streamName: string, tenant: string | undefined) => Kit.resolveStream(streamName, tenant, config)

  const streamVersion: EventStoreService["streamVersion"] = (streamName, options) =>
    Effect.flatMap(resolve(streamName, options?.tenant), (s) =>
      query<{ version: string }>(
        pool,
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
      const { limit, fromVersion: from } = yield* Kit.readStreamRange(options)
      const backward = options?.direction === "backward"
      const page = config.readPageSize
      return Stream.paginateChunkEffect(
        { next: backward ? (from ?? Number.MAX_SAFE_INTEGER) : Math.max(from ?? 1, 1), left: limit },
        ({ left, next }) => {
          const size = Math.min(page, left)
          return queryValues(pool, backward ? backwardSql : forwardSql, [s.tenant, s.streamName, next, size]).pipe(
            Effect.mapError(unavailable("readStream")),
            Effect.map((rows) => {
              const events = rows.map(makePageReader())
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

  // A wake-up is one or two statements: prepared once per connection, when the pool allows.
  const readName = PgPool.namedStatements(pool) ? "recount_read_stream_v1" : undefined

  // See `readPages` in @recount/runtime (internal/pagedRead.ts): the runtime's wake-up reads
  // through this when present, a page per query and no Stream.
  const readPages = (
    streamName: string,
    options: { readonly tenant: string; readonly fromVersion: number },
    onPage: (events: ReadonlyArray<RecordedEvent>) => boolean
  ): Effect.Effect<void, ReadError> =>
    Effect.flatMap(resolve(streamName, options.tenant), (s) => {
      const page = config.readPageSize
      const loop = (next: number): Effect.Effect<void, ReadError> =>
        Effect.flatMap(
          // Rows as arrays, as `readAll` reads them: a wake-up decodes every one.
          Effect.mapError(queryValues(pool, forwardSql, [s.tenant, s.streamName, next, page], readName), unavailable("readStream")),
          (rows) => {
            const events = rows.map(makePageReader())
            if (!onPage(events) || rows.length < page) return Effect.void
            return loop(events[events.length - 1]!.streamVersion + 1)
          }
        )
      return loop(Math.max(options.fromVersion, 1))
    })

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
      const page = `SELECT ${eventColumns} FROM recount_events WHERE ${where} ORDER BY recount_events.transaction_id, recount_events.global_position LIMIT $${params.length}`
      const filtered = options?.tenant !== undefined || options?.categories !== undefined || options?.eventTypes !== undefined
      // Rows come as arrays (see `EventValues`): a page of them is a projector's read.
      if (!filtered) {
        const rows = yield* queryValues(pool, page, params).pipe(Effect.mapError(unavailable("readAll")))
        const events = rows.map(makePageReader())
        return { events, checkpoint: events.length > 0 ? Checkpoint.of(events[events.length - 1]!) : after }
      }
      // A filtered reader that finds few or no events of its kind must still move past the others,
      // or it reads them all again on every wake-up. The same statement (one snapshot) returns the
      // last event under the fence; when the page is short, nothing between is of its kind.
      const rows = yield* queryValues(
        pool,
        `(SELECT page.*, false AS head FROM (${page}) AS page)
         UNION ALL
         (SELECT ${eventColumns}, true AS head FROM recount_events
          WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY recount_events.transaction_id DESC, recount_events.global_position DESC LIMIT 1)`,
        params
      ).pipe(Effect.mapError(unavailable("readAll")))
      // One pass: the page's rows, the head row apart (its `head` value follows the event's). A
      // UNION ALL's order is not promised, so the page is checked to be in log order and sorted
      // only if not (never seen); comparing the fields in place instead of through a Checkpoint
      // per side spares two objects a comparison.
      const read = makePageReader()
      const events: Array<RecordedEvent> = []
      let head: EventValues | undefined
      let ordered = true
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!
        if (row[eventColumnCount] === true) {
          head = row
          continue
        }
        const event = read(row)
        const previous = events.length > 0 ? events[events.length - 1]! : undefined
        if (previous !== undefined && !isBefore(previous, event)) ordered = false
        events.push(event)
      }
      if (!ordered) events.sort((a, b) => isBefore(a, b) ? -1 : isBefore(b, a) ? 1 : 0)
      const last = events.length > 0 ? Checkpoint.of(events[events.length - 1]!) : after
      // The head's transaction id and position, as `eventColumns` orders them.
      const checkpoint = events.length < batchSize && head ? Checkpoint.make(BigInt(head[1] as string), BigInt(head[0] as string)) : last
      return { events, checkpoint }
    })

  const subscribe = Kit.subscription({ config, wakeup, readAll, onStart: listen })

  const findCommand: EventStoreService["findCommand"] = (commandId, options) =>
    Effect.gen(function*() {
      const tenant = yield* Kit.resolveTenant(options?.tenant, config)
      const rows = yield* query<{ stream_name: string; first_version: string; last_version: string; global_position: string }>(
        pool,
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

  const appended = { count: wakeup.count, await: (seen: number, timeout: Duration.DurationInput) => Effect.zipRight(listen, wakeup.awaitChange(seen, timeout)) }

  return Object.assign(EventStore.of({ append, streamVersion, readStream, readAll, subscribe, appended, findCommand }), {
    [Symbol.for("@recount/EventStore/readPages")]: readPages,
    // Untraced only: a traced append has its span.
    ...(tracing.enabled ? {} : { [Symbol.for("@recount/EventStore/appendNow")]: appendNow })
  })
})

/**
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore, never, PgClient.PgClient | PgPool.PgPool> = Layer.scoped(EventStore, make)
