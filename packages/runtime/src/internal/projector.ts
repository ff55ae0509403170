import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgPoolModule from "@recount/postgres/PgPool"
import { PgPool } from "@recount/postgres/PgPool"
import * as PoolSqlClient from "@recount/postgres/PoolSqlClient"
import * as Checkpoint from "@recount/core/Checkpoint"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import { EventStore, type ReadAllBatch } from "@recount/core/EventStore"
import type { ReadError } from "@recount/core/EventStoreError"
import * as Tracing from "@recount/core/Tracing"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as Projection from "../Projection.js"
import * as RecountMetrics from "../RecountMetrics.js"
import * as Rows from "./projectionRows.js"

/**
 * A page read ahead, from its fiber: `Fiber.join` without its merge of the fiber's refs into the
 * caller's (a read changes none of them), which diffed the fiber's whole context once per page.
 */
const joinPage = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<A, E> => Effect.flatMap(Fiber.await(fiber), (exit) => exit)

/** Another instance holds the projection's lease, or its state moved under this one: stop writing. */
export class Fenced extends Data.TaggedError("Fenced")<{ readonly reason: string }> {}

/** The projection's handler (or the decoding of an event for it) failed. */
export class HandlerFailed extends Data.TaggedError("HandlerFailed")<{ readonly detail: string }> {}

/**
 * Points where tests inject crashes and pauses: after a batch is read and before its transaction
 * starts, and, inside the transaction, before the read-model write, between it and the checkpoint,
 * and before the commit (the checkpoint's statement is sent with the COMMIT, so the last two are
 * both after the writes and before anything of the checkpoint reaches the database).
 */
export class ProjectorHooks extends Context.Reference<ProjectorHooks>()("@recount/runtime/ProjectorHooks", {
  defaultValue: (): {
    readonly beforeTransaction?: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void>
    readonly beforeApply?: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void>
    readonly beforeCheckpoint?: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void>
    readonly beforeCommit?: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void>
  } => ({})
}) {}

export interface RunnerOptions {
  /** Identifies this instance in the lease. */
  readonly owner: string
  readonly leaseTimeout: Duration.Duration
  readonly pollInterval: Duration.Duration
  /**
   * Called after each commit that moved a checkpoint, with the live checkpoint it committed when
   * that is known (`undefined` after a strict stop or a rebuild's swap).
   */
  readonly onProgress: (live: Checkpoint.Checkpoint | undefined) => void
  /** Called when this instance takes the lease (`true`) and when it lets it go. */
  readonly onLease: (held: boolean) => void
}

type Kind = "live" | "rebuild"

const describe = (cause: Cause.Cause<unknown>) => {
  const failure = Cause.squash(cause)
  // An `SqlError` says only that a statement failed; the database's reason is its cause.
  const reason = failure instanceof Error && failure.cause instanceof Error ? `: ${failure.cause.message}` : ""
  const text = failure instanceof Error
    ? `${failure.name}: ${failure.message}${reason}`
    : typeof failure === "object"
    ? JSON.stringify(failure)
    : String(failure)
  return text.length > 2000 ? `${text.slice(0, 2000)}...` : text
}

/**
 * One projection's runner: takes the lease, then reads the log after its checkpoint and applies
 * batches, each in one transaction with its checkpoint. Never returns; a stale instance stops
 * writing (its batch transaction sees another epoch) and waits for the lease to free up.
 */
export const run = (projection: Projection.Any, options: RunnerOptions) =>
  Effect.gen(function*() {
    const tracing = yield* Tracing.Tracing
    // On Recount's pool, the runner and the handlers it calls use a client whose statements skip
    // @effect/sql's per-statement span and scope while tracing is off: they were most of a
    // per-event handler's cost. Without the pool (another SqlClient), the one in context.
    const pool = yield* Effect.serviceOption(PgPool)
    const sql = Option.isSome(pool) ? yield* PoolSqlClient.make(pool.value, { spans: tracing.enabled, prepare: PgPoolModule.namedStatements(pool.value) }) : yield* SqlClient.SqlClient
    // A transaction whose first statement rides with BEGIN and whose last with COMMIT: two round
    // trips of the runner's own per batch instead of four.
    const transaction = <A, E, R>(first: string, body: (rows: ReadonlyArray<unknown>) => Effect.Effect<readonly [A, string | undefined], E, R>) =>
      Option.isSome(pool)
        ? PoolSqlClient.transaction(pool.value, first, body)
        : sql.withTransaction(Effect.flatMap(sql.unsafe(first), (rows) =>
          Effect.flatMap(body(rows), ([value, last]) => last === undefined ? Effect.succeed(value) : Effect.as(sql.unsafe(last), value))))
    return yield* Effect.provideService(runWith(projection, options, sql, transaction), SqlClient.SqlClient, sql)
  })

type Transaction = <A, E, R>(
  first: string,
  body: (rows: ReadonlyArray<unknown>) => Effect.Effect<readonly [A, string | undefined], E, R>
) => Effect.Effect<A, E | SqlError, R>

const runWith = (projection: Projection.Any, options: RunnerOptions, sql: SqlClient.SqlClient, transaction: Transaction) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const hooks = yield* ProjectorHooks
    const tracing = yield* Tracing.Tracing
    const name = projection.name
    const batches = RecountMetrics.labelled(RecountMetrics.projectionBatches, { projection: projection.name })
    const applied = RecountMetrics.labelled(RecountMetrics.projectionEvents, { projection: projection.name })
    const eventTypes = projection.eventTypes
    const leaseMillis = Duration.toMillis(options.leaseTimeout)

    // Lease ------------------------------------------------------------------------------------
    const tryAcquire = Effect.flatMap(
      Rows.ensure(name),
      () =>
        sql.unsafe<{ epoch: string }>(
          `UPDATE recount_projections SET owner = $2, epoch = epoch + 1, heartbeat_at = now(), updated_at = now()
           WHERE name = $1 AND (owner IS NULL OR owner = $2 OR heartbeat_at IS NULL OR heartbeat_at < now() - $3 * interval '1 millisecond')
           RETURNING epoch::text AS epoch`,
          [name, options.owner, leaseMillis]
        )
    )
    const acquire = Effect.gen(function*() {
      while (true) {
        const rows = yield* tryAcquire
        if (rows[0]) return BigInt(rows[0].epoch)
        yield* Effect.sleep(Duration.millis(Math.max(100, leaseMillis / 3)))
      }
    })

    // Runs `body` in a transaction that holds the projection's row and checks that this instance
    // still owns it and that the checkpoint is where the batch started. `last`, a statement with
    // its values inlined, is sent with the COMMIT.
    const lockRow = `SELECT ${Rows.columns} FROM recount_projections WHERE name = ${PoolSqlClient.literal(name)} FOR UPDATE`
    const fenced = <A, E, R>(
      epoch: bigint,
      expect: { readonly kind: Kind; readonly version: number; readonly checkpoint: Checkpoint.Checkpoint } | undefined,
      body: (row: Rows.ControlRow) => Effect.Effect<A, E, R>,
      last?: (value: A) => string
    ) =>
      transaction(lockRow, (rows) => Effect.gen(function*() {
        const raw = rows[0] as Rows.RawRow | undefined
        const row = raw && Rows.toControlRow(raw)
        if (!row || row.epoch !== epoch) return yield* new Fenced({ reason: "another instance took the lease" })
        if (expect) {
          const [version, checkpoint] = expect.kind === "live"
            ? [row.version, row.checkpoint]
            : [row.rebuildVersion, row.rebuildCheckpoint]
          if (version !== expect.version || !checkpoint || Checkpoint.compare(checkpoint, expect.checkpoint) !== 0) {
            return yield* new Fenced({ reason: `the ${expect.kind} checkpoint moved` })
          }
        }
        const value = yield* body(row)
        return [value, last?.(value)] as const
      }))

    const decode = (events: ReadonlyArray<RecordedEvent>) => {
      // Sized once: grown by push, a page's array was copied about ten times on its way to 1,000.
      const decoded = new Array<Projection.Decoded<unknown>>(events.length)
      for (let i = 0; i < events.length; i++) {
        const envelope = events[i]!
        const result = projection.events.decodeEither(envelope)
        if (Either.isLeft(result)) return Either.left(new HandlerFailed({ detail: result.left.message }))
        decoded[i] = { event: result.right, envelope }
      }
      return Either.right(decoded as ReadonlyArray<Projection.Decoded<unknown>>)
    }

    /** A batch decoded ahead of its transaction (see the loop's prefetch), or a failure to decode it. */
    type Decoded = Either.Either<ReadonlyArray<Projection.Decoded<unknown>>, HandlerFailed>

    const applyHandler = (events: ReadonlyArray<RecordedEvent>, version: number, ahead?: Decoded) =>
      Effect.flatMap(ahead ?? decode(events), (decoded) =>
        // The handler's writes went out without waiting for their answers: it has not succeeded
        // until they have.
        Effect.zipRight(projection.apply(decoded, Projection.target(projection, version)), PoolSqlClient.settled).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause) ? Effect.failCause(cause as Cause.Cause<never>) : Effect.fail(new HandlerFailed({ detail: describe(cause) }))
          )
        ))

    const checkpointColumns = (kind: Kind) => kind === "live" ? ["transaction_id", "global_position"] : ["rebuild_transaction_id", "rebuild_position"]

    // The control row as the last live batch's transaction saw it (locked): while batches keep
    // coming, the loop goes on from it instead of reading the row again.
    let locked: Rows.ControlRow | undefined

    /** Applies a batch and moves the checkpoint past it, in one transaction. */
    const applyBatch = (epoch: bigint, kind: Kind, version: number, from: Checkpoint.Checkpoint, events: ReadonlyArray<RecordedEvent>, ahead?: Decoded) => {
      const to = Checkpoint.of(events[events.length - 1]!)
      const [tx, pos] = checkpointColumns(kind)
      // A side effect cannot join the transaction: it runs first, and runs again if the
      // checkpoint does not commit. A quick look at the lease spares most duplicate calls.
      const sideEffect = projection.transactional ? Effect.void : Effect.gen(function*() {
        const row = yield* loadRow
        if (row.epoch !== epoch) return yield* new Fenced({ reason: "another instance took the lease" })
        yield* applyHandler(events, version, ahead)
      })
      // The checkpoint's UPDATE goes with the COMMIT, in the same transaction as the writes.
      const checkpoint = `UPDATE recount_projections SET ${tx} = '${to.transactionId}'::xid8, ${pos} = ${to.position}, heartbeat_at = now(),
        updated_at = now()${kind === "live" ? `, events_applied = events_applied + ${events.length}` : ""} WHERE name = ${PoolSqlClient.literal(name)}`
      return Effect.zipRight(sideEffect, fenced(epoch, { kind, version, checkpoint: from }, (row) =>
        Effect.gen(function*() {
          locked = kind === "live" ? { ...row, checkpoint: to, eventsApplied: row.eventsApplied + BigInt(events.length) } : undefined
          if (hooks.beforeApply) yield* hooks.beforeApply(events)
          if (projection.transactional) yield* applyHandler(events, version, ahead)
          if (hooks.beforeCheckpoint) yield* hooks.beforeCheckpoint(events)
          if (hooks.beforeCommit) yield* hooks.beforeCommit(events)
        }), () => checkpoint)).pipe(Effect.as(to))
    }

    const park = (epoch: bigint, kind: Kind, version: number, from: Checkpoint.Checkpoint, event: RecordedEvent, error: string) => {
      const to = Checkpoint.of(event)
      const [tx, pos] = checkpointColumns(kind)
      return fenced(epoch, { kind, version, checkpoint: from }, () =>
        Effect.zipRight(
          sql.unsafe(
            `INSERT INTO recount_dead_letters (projection, event_id, transaction_id, global_position, tenant, stream_name,
                                               stream_version, event_type, error, attempts, status)
             VALUES ($1, $2, $3::xid8, $4, $5, $6, $7, $8, $9, $10, 'parked')
             ON CONFLICT (projection, event_id) DO UPDATE
               SET error = excluded.error, attempts = recount_dead_letters.attempts + excluded.attempts, status = 'parked',
                   parked_at = now(), resolved_at = NULL`,
            [name, event.eventId, String(event.transactionId), String(event.globalPosition), event.tenant, event.streamName,
              event.streamVersion, event.type, error, projection.failure.maxAttempts]
          ),
          sql.unsafe(
            `UPDATE recount_projections SET ${tx} = $2::xid8, ${pos} = $3, last_error = $4, heartbeat_at = now(), updated_at = now() WHERE name = $1`,
            [name, String(to.transactionId), String(to.position), `parked event ${event.eventId} (${event.type}): ${error}`]
          )
        )).pipe(
          Effect.tap(() => Effect.logWarning(`projection ${name} parked event ${event.eventId} (${event.type}) after ${projection.failure.maxAttempts} attempts: ${error}`)),
          Effect.as(to)
        )
    }

    // A handler failure while the database itself is unreachable is an outage, not a poison event:
    // it must not use up the event's attempts.
    const databaseReachable = sql.unsafe("SELECT 1").pipe(Effect.as(true), Effect.catchAll(() => Effect.succeed(false)))

    const noteError = (error: string) =>
      sql.unsafe("UPDATE recount_projections SET last_error = $2, updated_at = now() WHERE name = $1", [name, error]).pipe(Effect.ignore)

    /**
     * Applies events from a checkpoint: the whole batch at once; if that fails, one event at a time,
     * each with its retries, parking (or stopping, when strict) the one that keeps failing.
     * Returns the new checkpoint, or `undefined` when a strict projection stopped.
     */
    const applyFrom = (epoch: bigint, kind: Kind, version: number, from: Checkpoint.Checkpoint, events: ReadonlyArray<RecordedEvent>, ahead?: Decoded) =>
      traced(kind, events, Effect.gen(function*() {
        if (hooks.beforeTransaction) yield* hooks.beforeTransaction(events)
        const whole = yield* Effect.either(applyBatch(epoch, kind, version, from, events, ahead))
        if (Either.isRight(whole)) return whole.right
        if (whole.left._tag !== "HandlerFailed") return yield* whole.left
        let checkpoint = from
        for (const event of events) {
          let attempt = events.length > 1 ? 0 : 1
          let lastError = whole.left.detail
          while (true) {
            if (attempt > 0) {
              if (!(yield* databaseReachable)) return yield* Effect.dieMessage(`projection ${name}: the database is unreachable`)
              if (attempt >= projection.failure.maxAttempts) break
              yield* noteError(`event ${event.eventId} (${event.type}) failed, attempt ${attempt}: ${lastError}`)
              yield* Effect.sleep(Duration.millis(Math.min(10_000, Duration.toMillis(projection.failure.backoff) * 2 ** (attempt - 1))))
            }
            const one = yield* Effect.either(applyBatch(epoch, kind, version, checkpoint, [event]))
            if (Either.isRight(one)) break
            if (one.left._tag !== "HandlerFailed") return yield* one.left
            lastError = one.left.detail
            attempt++
          }
          if (attempt >= projection.failure.maxAttempts) {
            if (projection.failure.strict) {
              yield* stop(epoch, kind, version, `event ${event.eventId} (${event.type}) failed ${attempt} times: ${lastError}`)
              return undefined
            }
            yield* park(epoch, kind, version, checkpoint, event, lastError)
          }
          checkpoint = Checkpoint.of(event)
        }
        return checkpoint
      })).pipe(Effect.tap(() => Effect.sync(() => {
        batches.unsafeUpdate(1, [])
        applied.unsafeUpdate(events.length, [])
      })))

    // A span per batch, linked to the traces of the commands that appended its events (a few).
    const traced = <A, E, R>(kind: Kind, events: ReadonlyArray<RecordedEvent>, effect: Effect.Effect<A, E, R>) => {
      if (!tracing.enabled) return effect
      const links: Array<Tracer.SpanLink> = []
      const seen = new Set<string>()
      for (const event of events) {
        const traceId = event.metadata[Tracing.metadataKeys.traceId]
        const spanId = event.metadata[Tracing.metadataKeys.spanId]
        if (typeof traceId !== "string" || typeof spanId !== "string" || seen.has(traceId)) continue
        seen.add(traceId)
        links.push({ _tag: "SpanLink", span: Tracer.externalSpan({ traceId, spanId }), attributes: {} })
        if (links.length >= 32) break
      }
      return Effect.withSpan(effect, "recount.projection.batch", {
        attributes: {
          "recount.projection": name,
          "recount.projection.kind": kind,
          "recount.events": events.length,
          "recount.from_position": String(events[0]!.globalPosition),
          "recount.to_position": String(events[events.length - 1]!.globalPosition)
        },
        links
      })
    }

    /** A strict projection stops: live, it is marked failed; a rebuild is abandoned, the old version untouched. */
    const stop = (epoch: bigint, kind: Kind, version: number, error: string) =>
      fenced(epoch, undefined, () =>
        kind === "live"
          ? sql.unsafe("UPDATE recount_projections SET failed_at = now(), last_error = $2, updated_at = now() WHERE name = $1", [name, error])
          : Effect.zipRight(
            Rows.dropVersion(projection, Projection.target(projection, version)),
            sql.unsafe(
              `UPDATE recount_projections SET rebuild_version = NULL, rebuild_transaction_id = NULL, rebuild_position = NULL,
                 rebuild_started_at = NULL, last_error = $2, updated_at = now() WHERE name = $1`,
              [name, `rebuild to version ${version} failed: ${error}`]
            )
          )).pipe(Effect.tap(() => Effect.logError(`projection ${name} stopped (${kind}): ${error}`)))

    const readAfter = (after: Checkpoint.Checkpoint) =>
      store.readAll({ after, eventTypes, categories: projection.categories, batchSize: projection.batchSize })

    // Rebuild ----------------------------------------------------------------------------------
    let preparedRebuild: number | undefined
    const prepareRebuild = (epoch: bigint, version: number) =>
      Effect.gen(function*() {
        const target = Projection.target(projection, version)
        // A rebuild restarted after a crash starts over: its half-filled tables go first.
        yield* fenced(epoch, undefined, () =>
          Effect.zipRight(
            Rows.dropVersion(projection, target),
            sql.unsafe("UPDATE recount_projections SET rebuild_transaction_id = '0', rebuild_position = 0, updated_at = now() WHERE name = $1", [name])
          ))
        yield* Rows.migrate(projection, target)
        preparedRebuild = version
      })

    /**
     * When the rebuild has caught up: swap it in, atomically. The live runner waits on the row lock
     * meanwhile, so events that arrived since the rebuild's last batch are applied here first;
     * if that fails, the swap waits for the rebuild's normal retries.
     */
    const trySwap = (epoch: bigint, row: Rows.ControlRow, version: number, checkpoint: Checkpoint.Checkpoint) =>
      fenced(epoch, { kind: "rebuild", version, checkpoint }, (locked) =>
        Effect.gen(function*() {
          const batch = yield* readAfter(checkpoint)
          if (batch.events.length >= projection.batchSize) return false
          if (batch.events.length > 0) {
            yield* applyHandler(batch.events, version)
            const to = Checkpoint.of(batch.events[batch.events.length - 1]!)
            yield* sql.unsafe(
              "UPDATE recount_projections SET rebuild_transaction_id = $2::xid8, rebuild_position = $3 WHERE name = $1",
              [name, String(to.transactionId), String(to.position)]
            )
          }
          yield* Rows.pointViews(projection, Projection.target(projection, version))
          yield* Rows.dropVersion(projection, Projection.target(projection, locked.version))
          yield* sql.unsafe(
            `UPDATE recount_projections SET version = $2, transaction_id = rebuild_transaction_id, global_position = rebuild_position,
               rebuild_version = NULL, rebuild_transaction_id = NULL, rebuild_position = NULL, rebuild_started_at = NULL,
               heartbeat_at = now(), updated_at = now() WHERE name = $1`,
            [name, version]
          )
          return true
        })).pipe(
          Effect.catchTag("HandlerFailed", () => Effect.succeed(false)),
          Effect.tap((swapped) => swapped ? Effect.log(`projection ${name}: rebuilt version ${version} is live (was ${row.version})`) : Effect.void)
        )

    // Retries of parked events that an operator asked for ---------------------------------------
    const retryParked = (epoch: bigint, version: number) =>
      Effect.gen(function*() {
        const requests = yield* sql.unsafe<{ event_id: string; tenant: string; stream_name: string; stream_version: string }>(
          `SELECT event_id::text AS event_id, tenant, stream_name, stream_version::text AS stream_version FROM recount_dead_letters
           WHERE projection = $1 AND status = 'retry' ORDER BY transaction_id, global_position LIMIT 100`,
          [name]
        )
        for (const request of requests) {
          const [event] = yield* store.readStream(request.stream_name, {
            tenant: request.tenant,
            fromVersion: Number(request.stream_version),
            limit: 1
          }).pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
          const outcome = event === undefined
            ? Either.left(new HandlerFailed({ detail: "the event is no longer in the store" }))
            : yield* Effect.either(projection.transactional ? fenced(epoch, undefined, () => applyHandler([event], version)) : applyHandler([event], version))
          if (Either.isLeft(outcome) && outcome.left._tag !== "HandlerFailed") return yield* outcome.left
          yield* fenced(epoch, undefined, () =>
            Either.isRight(outcome)
              ? sql.unsafe("UPDATE recount_dead_letters SET status = 'applied', resolved_at = now() WHERE projection = $1 AND event_id = $2", [name, request.event_id])
              : sql.unsafe(
                "UPDATE recount_dead_letters SET status = 'parked', attempts = attempts + 1, error = $3 WHERE projection = $1 AND event_id = $2",
                [name, request.event_id, (outcome.left as HandlerFailed).detail]
              ))
        }
        return requests.length > 0
      })

    // Read-ahead ------------------------------------------------------------------------------
    /** A page read ahead with its decoding; `undefined` when the page before it was not full (nothing to read). */
    type Ahead = Fiber.RuntimeFiber<readonly [ReadAllBatch, Decoded | undefined] | undefined, ReadError>
    const readPage = (after: Checkpoint.Checkpoint) =>
      Effect.map(readAfter(after), (batch) => [batch, batch.events.length > 0 ? decode(batch.events) : undefined] as const)
    /** The page after `previous`'s, once `previous` has arrived full. */
    const pageAfter = (previous: Ahead) =>
      Effect.flatMap(joinPage(previous), (page) =>
        page && page[0].events.length >= projection.batchSize
          ? readPage(Checkpoint.of(page[0].events[page[0].events.length - 1]!))
          : Effect.succeed(undefined))

    // The loop -----------------------------------------------------------------------------------
    const loop = (epoch: bigint) =>
      Effect.gen(function*() {
        yield* Rows.migrate(projection, Projection.target(projection, (yield* loadRow).version))
        yield* sql.withTransaction(Effect.flatMap(loadRow, (row) => Rows.pointViews(projection, Projection.target(projection, row.version))))
        let lastHeartbeat = Date.now()
        let lastRetryCheck = 0
        let lastSkip = 0
        // The next pages, read and decoded while the current one is applied and committed (decoding
        // is pure, so it need not wait for the transaction): the runner's client work then overlaps
        // the database's instead of lengthening the batch's transaction. Up to two pages ahead,
        // each read after the one before it arrives (one read in flight at a time): with one, a
        // batched handler's runner sat idle through each page's query while the server ran it.
        let prefetched: { readonly after: Checkpoint.Checkpoint; readonly pages: Array<Ahead> } | undefined
        let readAhead = 1
        let carried: Rows.ControlRow | undefined
        while (true) {
          const seen = store.appended.count()
          const row = carried ?? (yield* loadRow)
          carried = undefined
          if (row.epoch !== epoch) return yield* new Fenced({ reason: "another instance took the lease" })
          let worked = false
          if (!row.paused && !row.failed) {
            // Operators ask for retries rarely: look for requests once a second, not per batch.
            if (Date.now() - lastRetryCheck >= 1000) {
              lastRetryCheck = Date.now()
              worked = yield* retryParked(epoch, row.version)
            }
            // Pages read ahead are used only from the checkpoint they were read after; otherwise
            // (a batch split, a parked event, another instance's write) they are dropped.
            let ahead = prefetched
            prefetched = undefined
            const first = ahead && Checkpoint.compare(ahead.after, row.checkpoint) === 0 ? ahead.pages.shift() : undefined
            // A runner that waits for its reads (a batch applied faster than a page is read) reads
            // a second page ahead from then on; one whose pages are ready before it needs them (a
            // handler per event) keeps one: a page more held in memory only costs it collection
            // work. It stays at two: with the second page its reads are ready in time, and going
            // back to one would make every other page wait again.
            if (first && first.unsafePoll() === null) readAhead = 2
            const page = first ? yield* joinPage(first) : undefined
            if (!page && ahead) {
              yield* Fiber.interruptAll(ahead.pages)
              ahead = undefined
            }
            const [live, decoded] = page ?? [yield* readAfter(row.checkpoint), undefined] as const
            // After a short page, the pages behind it have nothing to read.
            if (ahead && live.events.length < projection.batchSize) yield* Fiber.interruptAll(ahead.pages)
            if (live.events.length > 0) {
              locked = undefined
              // Catching up: read (and decode) the next pages while this one is applied and committed.
              if (live.events.length >= projection.batchSize) {
                const next = Checkpoint.of(live.events[live.events.length - 1]!)
                // What is left of the pages read ahead starts at `next` (each follows a full page).
                const pages = ahead?.pages ?? []
                if (pages.length === 0) pages.push(yield* Effect.fork(readPage(next)))
                while (pages.length < readAhead) pages.push(yield* Effect.fork(pageAfter(pages[pages.length - 1]!)))
                prefetched = { after: next, pages }
              }
              options.onProgress(yield* applyFrom(epoch, "live", row.version, row.checkpoint, live.events, decoded))
              worked = true
              // A full batch that went through whole: more are likely, and the row is known.
              const last = Checkpoint.of(live.events[live.events.length - 1]!)
              const after = locked as Rows.ControlRow | undefined // set by the batch's transaction
              if (live.events.length >= projection.batchSize && after && row.rebuildVersion === null && Checkpoint.compare(after.checkpoint, last) === 0) {
                carried = after
              }
            } else if (Checkpoint.compare(live.checkpoint, row.checkpoint) > 0 && Date.now() - lastSkip >= 1000) {
              // Only events of other kinds arrived: move past them (at most once a second), so
              // that the next read does not scan them again.
              lastSkip = Date.now()
              const to = live.checkpoint
              yield* fenced(epoch, { kind: "live", version: row.version, checkpoint: row.checkpoint }, () =>
                sql.unsafe(
                  "UPDATE recount_projections SET transaction_id = $2::xid8, global_position = $3, heartbeat_at = now() WHERE name = $1",
                  [name, String(to.transactionId), String(to.position)]
                ))
              lastHeartbeat = Date.now()
            }
          }
          if (row.rebuildVersion !== null && row.rebuildCheckpoint !== null && !row.paused) {
            if (preparedRebuild !== row.rebuildVersion) {
              yield* prepareRebuild(epoch, row.rebuildVersion)
              continue
            }
            const rebuild = yield* readAfter(row.rebuildCheckpoint)
            const rebuilt = rebuild.events.length === 0
              ? row.rebuildCheckpoint
              : yield* applyFrom(epoch, "rebuild", row.rebuildVersion, row.rebuildCheckpoint, rebuild.events)
            // A short batch means the rebuild is at the head: under a steady stream of appends
            // it is never empty, so do not wait for that.
            if (rebuilt && rebuild.events.length < projection.batchSize && (yield* trySwap(epoch, row, row.rebuildVersion, rebuilt))) {
              options.onProgress(undefined)
            }
            worked = true
          }
          if (worked) {
            lastHeartbeat = Date.now()
            continue
          }
          if (Date.now() - lastHeartbeat > leaseMillis / 3) {
            const beat = yield* sql.unsafe("UPDATE recount_projections SET heartbeat_at = now() WHERE name = $1 AND epoch = $2 RETURNING 1", [name, String(epoch)])
            if (beat.length === 0) return yield* new Fenced({ reason: "another instance took the lease" })
            lastHeartbeat = Date.now()
          }
          yield* store.appended.await(seen, options.pollInterval)
        }
      })

    const loadRow = Effect.flatMap(Rows.load([name]), (rows) => {
      const row = rows.get(name)
      return row ? Effect.succeed(row) : Effect.dieMessage(`projection ${name} has no control row`)
    })

    const release = (epoch: bigint) =>
      sql.unsafe("UPDATE recount_projections SET owner = NULL WHERE name = $1 AND epoch = $2", [name, String(epoch)]).pipe(Effect.ignore)

    // Supervision: a fenced instance waits for the lease; anything else restarts after a pause,
    // from the last committed checkpoint.
    while (true) {
      // Waiting for the lease must stay interruptible (an instance that never gets it would
      // otherwise hold up its node's shutdown); once it is held, it is released however the loop ends.
      const exit = yield* Effect.exit(Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(acquire), (epoch) => {
          preparedRebuild = undefined
          options.onLease(true)
          return restore(loop(epoch)).pipe(Effect.ensuring(Effect.zipRight(Effect.sync(() => options.onLease(false)), release(epoch))))
        })
      ))
      if (exit._tag === "Success") continue
      if (Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
      const failure = Cause.failureOption(exit.cause)
      if (failure._tag === "Some" && failure.value instanceof Fenced) {
        yield* Effect.logWarning(`projection ${name}: ${failure.value.reason}; this instance stops writing`)
      } else {
        yield* Effect.logError(`projection ${name} crashed; restarting from its checkpoint`, exit.cause)
        yield* noteError(`crashed: ${describe(exit.cause)}`)
        yield* Effect.sleep(Duration.seconds(1))
      }
    }
  })
