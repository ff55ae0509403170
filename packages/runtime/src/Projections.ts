/**
 * Runs projections and operates them: one supervised runner per projection in the whole cluster,
 * and, from any node, status, pause, resume, rebuild, the parked events, and waiting until
 * projections have caught up with a command.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Checkpoint from "@recount/core/Checkpoint"
import { EventStoreConfig } from "@recount/core/EventStoreConfig"
import * as Kit from "@recount/core/EventStoreKit"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as os from "node:os"
import * as Projector from "./internal/projector.js"
import * as SupervisedSingleton from "./internal/supervisedSingleton.js"
import * as Rows from "./internal/projectionRows.js"
import type * as Projection from "./Projection.js"
import { DeadLetterNotFound, ProjectionsUnavailable, RebuildNotSupported, UnknownProjection } from "./RuntimeError.js"

export { CaughtUp, DeadLetter, ProjectionStatus } from "@recount/core/ProjectionStatus"
import type { CaughtUp, DeadLetter, ProjectionStatus } from "@recount/core/ProjectionStatus"

/** The events a command wrote: one stream, a range of versions. */
export interface WrittenEvents {
  readonly tenant: string
  readonly streamName: string
  readonly firstVersion: number
  readonly lastVersion: number
}

/** @since 0.1.0 */
export type ProjectionsError = UnknownProjection | ProjectionsUnavailable

/** @since 0.1.0 */
export interface ProjectionsService {
  readonly projections: ReadonlyMap<string, Projection.Any>
  /** Status of these projections, or of all. */
  readonly status: (names?: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ProjectionStatus>, ProjectionsError>
  /** Stops applying events (the lease is kept) until `resume`. */
  readonly pause: (name: string) => Effect.Effect<void, ProjectionsError>
  /** Resumes a paused projection, or a strict one that failed (its event is tried again). */
  readonly resume: (name: string) => Effect.Effect<void, ProjectionsError>
  /**
   * Fills a new read-model version from the start of the log while the current one keeps serving,
   * then swaps the views to it atomically. Returns the version being built; asking again while a
   * rebuild runs returns the same version.
   */
  readonly rebuild: (name: string) => Effect.Effect<number, ProjectionsError | RebuildNotSupported>
  readonly deadLetters: {
    readonly list: (options?: {
      readonly projection?: string | undefined
      readonly status?: DeadLetter["status"] | undefined
      readonly limit?: number | undefined
    }) => Effect.Effect<ReadonlyArray<DeadLetter>, ProjectionsError>
    /** Applies a parked event again (the projection's runner does it, soon). */
    readonly retry: (projection: string, eventId: string) => Effect.Effect<void, ProjectionsError | DeadLetterNotFound>
    /** Gives up on a parked event for good. */
    readonly skip: (projection: string, eventId: string) => Effect.Effect<void, ProjectionsError | DeadLetterNotFound>
  }
  /**
   * Waits until these projections (all when absent) have applied the events, or the timeout.
   * Projections that do not handle any of the events count as caught up.
   */
  readonly waitFor: (
    events: WrittenEvents,
    options: { readonly projections?: ReadonlyArray<string> | undefined; readonly timeout: Duration.DurationInput }
  ) => Effect.Effect<CaughtUp, ProjectionsError>
}

/** @since 0.1.0 */
export class Projections extends Context.Tag("@recount/runtime/Projections")<Projections, ProjectionsService>() {}

/** @since 0.1.0 */
export interface Options {
  /** An instance that has not shown life for this long loses its lease to another. Default 10 s. */
  readonly leaseTimeout?: Duration.DurationInput | undefined
  /** Polling fallback when no NOTIFY arrives; defaults to the store's poll interval. */
  readonly pollInterval?: Duration.DurationInput | undefined
}

/** `RECOUNT_PROJECTION_LEASE_TIMEOUT` (default 10 seconds). */
export const leaseTimeoutConfig = Config.duration("RECOUNT_PROJECTION_LEASE_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10)))

const unavailable = (e: SqlError) => new ProjectionsUnavailable({ detail: e.message })
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The operations, without runners: for nodes (and tools) that inspect and steer projections that
 * run elsewhere in the cluster.
 *
 * @since 0.1.0
 */
export const make = (projections: ReadonlyArray<Projection.Any>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const byName = new Map<string, Projection.Any>()
    for (const projection of projections) {
      if (byName.has(projection.name)) return yield* Effect.dieMessage(`projection ${projection.name} is registered twice`)
      byName.set(projection.name, projection)
    }
    const progress = Kit.makeWakeup()
    const lease = yield* leaseTimeoutConfig

    // What this process's runners report, so that `waitFor` need not ask the database while they
    // hold the lease: each commit's live checkpoint (a fact that stays true), and whether the lease
    // is held here. A report without a checkpoint (a swap, a strict stop) sends the next check to
    // the database.
    const here = new Map<string, { leased: boolean; committed: Checkpoint.Checkpoint | undefined }>()
    let unknownProgress = 0
    const reportOf = (name: string): Pick<Projector.RunnerOptions, "onProgress" | "onLease"> => {
      const state = { leased: false, committed: undefined as Checkpoint.Checkpoint | undefined }
      here.set(name, state)
      return {
        onProgress: (live) => {
          if (live === undefined) unknownProgress++
          else if (state.committed === undefined || Checkpoint.compare(live, state.committed) > 0) state.committed = live
          progress.signal()
        },
        onLease: (held) => {
          state.leased = held
        }
      }
    }

    const known = (names: ReadonlyArray<string> | undefined) =>
      Effect.forEach(names ?? [...byName.keys()], (name) => {
        const projection = byName.get(name)
        return projection ? Effect.succeed(projection) : Effect.fail(new UnknownProjection({ projection: name, known: [...byName.keys()] }))
      })

    const withSql = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) => Effect.provideService(effect, SqlClient.SqlClient, sql)

    const update = (name: string, statement: string) =>
      Effect.flatMap(known([name]), () =>
        Rows.ensure(name).pipe(
          Effect.zipRight(sql.unsafe(statement, [name])),
          Effect.mapError(unavailable),
          Effect.tap(() => Effect.sync(progress.signal)),
          Effect.asVoid,
          withSql
        ))

    const lagOf = (projection: Projection.Any, after: Checkpoint.Checkpoint) =>
      sql.unsafe<{ lag: string; seconds: number | null }>(
        `SELECT count(*)::text AS lag, extract(epoch FROM now() - min(recorded_at))::float8 AS seconds FROM recount_events
         WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint) AND event_type = ANY($3)
           ${projection.categories ? "AND category = ANY($4)" : ""}
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())`,
        projection.categories
          ? [String(after.transactionId), String(after.position), projection.eventTypes, projection.categories]
          : [String(after.transactionId), String(after.position), projection.eventTypes]
      ).pipe(Effect.map(([row]) => ({ lag: Number(row?.lag ?? 0), seconds: row?.seconds ?? 0 })))

    const status: ProjectionsService["status"] = (names) =>
      Effect.gen(function*() {
        const selected = yield* known(names)
        const rows = yield* Rows.load(selected.map((p) => p.name))
        const parked = new Map((yield* sql.unsafe<{ projection: string; n: string }>(
          "SELECT projection, count(*)::text AS n FROM recount_dead_letters WHERE status IN ('parked', 'retry') GROUP BY projection"
        )).map((r) => [r.projection, Number(r.n)] as const))
        const now = Date.now()
        return yield* Effect.forEach(selected, (projection) =>
          Effect.gen(function*() {
            const row = rows.get(projection.name)
            const checkpoint = row?.checkpoint ?? Checkpoint.start
            const lag = yield* lagOf(projection, checkpoint)
            const rebuild = row?.rebuildVersion != null && row.rebuildCheckpoint
              ? { version: row.rebuildVersion, checkpoint: row.rebuildCheckpoint, lagEvents: (yield* lagOf(projection, row.rebuildCheckpoint)).lag }
              : null
            const alive = row?.owner != null && row.heartbeatAt !== null && now - row.heartbeatAt.getTime() < Duration.toMillis(lease)
            const state: ProjectionStatus["state"] = row?.failed ? "failed"
              : row?.paused ? "paused"
              : !alive ? "stopped"
              : rebuild ? "rebuilding"
              : lag.lag > projection.batchSize ? "catching-up"
              : "running"
            return {
              name: projection.name,
              state,
              version: row?.version ?? 1,
              checkpoint,
              eventsApplied: row?.eventsApplied ?? 0n,
              lagEvents: lag.lag,
              lagSeconds: lag.lag === 0 ? 0 : Math.max(0, lag.seconds),
              lastError: row?.lastError ?? null,
              parkedEvents: parked.get(projection.name) ?? 0,
              owner: alive ? row!.owner : null,
              rebuild
            }
          }))
      }).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(unavailable(e))), withSql)

    const deadLetter = (projection: string, eventId: string, statement: string) =>
      Effect.gen(function*() {
        yield* known([projection])
        if (!uuidPattern.test(eventId)) return yield* new DeadLetterNotFound({ projection, eventId })
        const rows = yield* sql.unsafe(statement, [projection, eventId]).pipe(Effect.mapError(unavailable))
        if (rows.length === 0) return yield* new DeadLetterNotFound({ projection, eventId })
      })

    const waitFor: ProjectionsService["waitFor"] = (events, options) =>
      Effect.gen(function*() {
        const started = Date.now()
        const deadline = started + Duration.toMillis(Duration.decode(options.timeout))
        const selected = yield* known(options.projections)
        const written = yield* sql.unsafe<{ event_type: string; category: string; tx: string; pos: string }>(
          `SELECT event_type, category, transaction_id::text AS tx, global_position::text AS pos FROM recount_events
           WHERE tenant = $1 AND stream_name = $2 AND stream_version BETWEEN $3 AND $4`,
          [events.tenant, events.streamName, events.firstVersion, events.lastVersion]
        )
        // Each projection must pass the last of the command's events that it handles.
        const targets = new Map<string, Checkpoint.Checkpoint>()
        for (const projection of selected) {
          for (const e of written) {
            if (!projection.eventTypes.includes(e.event_type)) continue
            if (projection.categories && !projection.categories.includes(e.category)) continue
            const at = Checkpoint.make(BigInt(e.tx), BigInt(e.pos))
            const current = targets.get(projection.name)
            if (!current || Checkpoint.compare(at, current) > 0) targets.set(projection.name, at)
          }
        }
        let lagging = [...targets.keys()]
        const passedHere = (name: string) => {
          const committed = here.get(name)?.committed
          return committed !== undefined && Checkpoint.compare(committed, targets.get(name)!) >= 0
        }
        // The first check always reads the rows: a runner elsewhere may have passed the events
        // before this node's took over.
        let lastRead: number | undefined
        let readAtUnknown = unknownProgress
        while (lagging.length > 0) {
          const seen = progress.count()
          lagging = lagging.filter((name) => !passedHere(name))
          if (lagging.length === 0) break
          // Runners of this process report every commit: while they hold the leases, the rows are
          // read once a second (a lost lease, a report without a checkpoint) instead of polled.
          const allHere = lagging.every((name) => here.get(name)?.leased === true)
          if (!allHere || lastRead === undefined || readAtUnknown !== unknownProgress || Date.now() - lastRead >= 1000) {
            lastRead = Date.now()
            readAtUnknown = unknownProgress
            const rows = yield* Rows.load(lagging)
            lagging = lagging.filter((name) => {
              const row = rows.get(name)
              return !row || Checkpoint.compare(row.checkpoint, targets.get(name)!) < 0
            })
          }
          const left = deadline - Date.now()
          if (lagging.length === 0 || left <= 0) break
          // Runners on this node signal at once; elsewhere, a short poll.
          yield* progress.awaitChange(seen, Duration.millis(Math.min(left, allHere ? 1000 : 20)))
        }
        return { caughtUp: lagging.length === 0, lagging, waitedMillis: Date.now() - started }
      }).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(unavailable(e))), withSql)

    return {
      reportOf,
      service: Projections.of({
        projections: byName,
        status,
        pause: (name) => update(name, "UPDATE recount_projections SET paused = true, updated_at = now() WHERE name = $1"),
        resume: (name) => update(name, "UPDATE recount_projections SET paused = false, failed_at = NULL, updated_at = now() WHERE name = $1"),
        rebuild: (name) =>
          byName.get(name)?.transactional === false
            ? Effect.fail(new RebuildNotSupported({ projection: name }))
            : Effect.zipRight(
            update(
              name,
              `UPDATE recount_projections SET rebuild_version = version + 1, rebuild_transaction_id = '0', rebuild_position = 0,
                 rebuild_started_at = now(), updated_at = now()
               WHERE name = $1 AND rebuild_version IS NULL`
            ),
            Effect.map(Rows.load([name]).pipe(Effect.mapError(unavailable), withSql), (rows) => rows.get(name)?.rebuildVersion ?? rows.get(name)?.version ?? 1)
          ),
        deadLetters: {
          list: (options) =>
            Effect.gen(function*() {
              const names = (yield* known(options?.projection === undefined ? undefined : [options.projection])).map((p) => p.name)
              const rows = yield* sql.unsafe<{
                projection: string; event_id: string; tx: string; pos: string; tenant: string; stream_name: string
                stream_version: string; event_type: string; error: string; attempts: number; status: DeadLetter["status"]
                parked_at: Date; resolved_at: Date | null
              }>(
                `SELECT projection, event_id::text AS event_id, transaction_id::text AS tx, global_position::text AS pos, tenant,
                        stream_name, stream_version::text AS stream_version, event_type, error, attempts, status, parked_at, resolved_at
                 FROM recount_dead_letters WHERE projection = ANY($1) ${options?.status ? "AND status = $3" : ""}
                 ORDER BY projection, transaction_id, global_position LIMIT $2`,
                options?.status ? [names, options?.limit ?? 1000, options.status] : [names, options?.limit ?? 1000]
              ).pipe(Effect.mapError(unavailable))
              return rows.map((r) => ({
                projection: r.projection,
                eventId: r.event_id,
                checkpoint: Checkpoint.make(BigInt(r.tx), BigInt(r.pos)),
                tenant: r.tenant,
                streamName: r.stream_name,
                streamVersion: Number(r.stream_version),
                eventType: r.event_type,
                error: r.error,
                attempts: r.attempts,
                status: r.status,
                parkedAt: r.parked_at,
                resolvedAt: r.resolved_at
              }))
            }),
          retry: (projection, eventId) =>
            deadLetter(projection, eventId, "UPDATE recount_dead_letters SET status = 'retry' WHERE projection = $1 AND event_id = $2::uuid AND status = 'parked' RETURNING 1"),
          skip: (projection, eventId) =>
            deadLetter(
              projection,
              eventId,
              "UPDATE recount_dead_letters SET status = 'skipped', resolved_at = now() WHERE projection = $1 AND event_id = $2::uuid AND status IN ('parked', 'retry') RETURNING 1"
            )
        },
        waitFor
      }),
      progress
    }
  })

/**
 * The operations only; the projections run on other nodes.
 *
 * @since 0.1.0
 */
export const layerControl = (projections: ReadonlyArray<Projection.Any>) =>
  Layer.effect(Projections, Effect.map(make(projections), (made) => made.service))

const runnerOptions = (options: Options | undefined) =>
  Effect.gen(function*() {
    const config = yield* EventStoreConfig
    return {
      owner: `${os.hostname()}/${globalThis.process.pid}/${globalThis.crypto.randomUUID()}`,
      leaseTimeout: Duration.decode(options?.leaseTimeout ?? (yield* leaseTimeoutConfig)),
      pollInterval: Duration.decode(options?.pollInterval ?? config.pollInterval)
    }
  })

/**
 * Runs each projection as a cluster `Singleton` (one instance in the whole cluster, fenced by its
 * lease besides; started again if it ends by itself) and provides the operations.
 *
 * @since 0.1.0
 */
export const layer = (projections: ReadonlyArray<Projection.Any>, options?: Options) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const made = yield* make(projections)
    const runner = yield* runnerOptions(options)
    return Layer.mergeAll(
      Layer.succeed(Projections, made.service),
      ...projections.map((projection) =>
        SupervisedSingleton.make(`recount/projection/${projection.name}`, Projector.run(projection, { ...runner, ...made.reportOf(projection.name) }))
      )
    )
  }))

/**
 * Runs each projection as a fiber of this process, without a cluster (tools, tests, a single
 * process). The lease still keeps a second process from writing at the same time.
 *
 * @since 0.1.0
 */
export const layerLocal = (projections: ReadonlyArray<Projection.Any>, options?: Options) =>
  Layer.scoped(Projections, Effect.gen(function*() {
    const made = yield* make(projections)
    const runner = yield* runnerOptions(options)
    yield* Effect.forEach(projections, (projection) => Effect.forkScoped(Projector.run(projection, { ...runner, ...made.reportOf(projection.name) })), {
      discard: true
    })
    return made.service
  }))
