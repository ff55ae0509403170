/**
 * One append on the pool, driven by the driver's callbacks. An append is one round trip
 * (`recount_append`) and, rarely, a second one (a retry by event id, or a race on a new command
 * id). The common path allocates one call object and one callback and builds no Effect chain: per
 * append, the flatMap/match closures and their per-closure naming under tsx cost more client CPU
 * than the SQL work's share (the store bench's append rows are CPU-bound on a 2-core box).
 */
import type { AppendResult } from "@recount/core/EventEnvelope"
import {
  type AppendError,
  EventIdConflict,
  InvalidEvent,
  StoreUnavailable,
  WrongExpectedVersion
} from "@recount/core/EventStoreError"
import type * as Kit from "@recount/core/EventStoreKit"
import type * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as Effect from "effect/Effect"
import type Pg from "pg"
import { submit } from "./query.js"

/** @internal */
export const appendSql = "SELECT status, stream_version, global_position, first_version FROM recount_append($1, $2, $3, $4, $5::jsonb, $6)"
/** @internal */
export const findAppendedSql =
  "SELECT status, stream_version, global_position, first_version, conflict_event_id FROM recount_find_appended($1, $2, $3::jsonb)"

/** The append's name when it is prepared once per connection: the server parses and plans it once. */
const appendName = "recount_append_v1"

interface AppendRow {
  readonly status: number
  readonly stream_version: string | null
  readonly global_position: string | null
  readonly first_version: string | null
  readonly conflict_event_id?: string | null
}

type DriverError = Error & { readonly code?: string | undefined }
type Resume = (effect: Effect.Effect<AppendResult, AppendError>) => void

/** What every append of one store shares. */
export interface Appender {
  readonly pool: Pg.Pool
  /** Prepare `recount_append` once per connection (see `PgPool.namedStatements`). */
  readonly named: boolean
  /** Events were written (status 0): wake followers, count them. */
  readonly appended: (events: number) => void
  readonly alreadyApplied: () => void
  readonly conflict: () => void
  readonly failed: () => void
}

/** @internal */
export const expectedCode = (expected: ExpectedVersion.ExpectedVersion): number => {
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
export const eventsJson = (events: ReadonlyArray<Kit.PreparedEvent>): string => {
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

const unavailable = (detail: string) => new StoreUnavailable({ operation: "append", detail })

/**
 * One append in flight. `send` starts it; the driver's callback answers through `resume`
 * exactly once.
 */
export class AppendCall {
  /** Races on a new command id that run the statement again (the stored result then answers). */
  private retries = 2
  private settled = false
  private readonly params: ReadonlyArray<unknown>
  private readonly payload: string

  constructor(
    private readonly appender: Appender,
    private readonly prepared: Kit.PreparedAppend,
    private readonly expected: ExpectedVersion.ExpectedVersion,
    private readonly resume: Resume
  ) {
    this.payload = eventsJson(prepared.events)
    this.params = [prepared.tenant, prepared.streamName, prepared.category, expectedCode(expected), this.payload, prepared.commandId]
  }

  send(): void {
    this.query(appendSql, this.params, false, this.appender.named ? appendName : undefined)
  }

  private query(text: string, values: ReadonlyArray<unknown>, lookup: boolean, name?: string): void {
    try {
      submit<AppendRow>(this.appender.pool, text, values, name, (error, result) => {
        if (error) this.refused(error, lookup)
        else this.finish(this.outcome(result?.rows[0]))
      })
    } catch (error) {
      // Should the driver throw instead of calling back, the append still gets an answer.
      this.appender.failed()
      this.finish(Effect.fail(unavailable(error instanceof Error ? error.message : String(error))))
    }
  }

  /** Answers once, whatever happens after (a callback that throws would otherwise answer twice). */
  private finish(effect: Effect.Effect<AppendResult, AppendError>): void {
    if (this.settled) return
    this.settled = true
    this.resume(effect)
  }

  private refused(error: DriverError, lookup: boolean): void {
    if (lookup) {
      this.finish(Effect.fail(unavailable(error.message)))
      return
    }
    // An event id already stored: a retry of an earlier append, or a conflict.
    if (error.code === "RC002") {
      this.query(findAppendedSql, [this.prepared.tenant, this.prepared.streamName, this.payload], true)
      return
    }
    // Two appends raced with the same new command id: run again and the stored result answers.
    if (error.code === "23505" && this.retries > 0) {
      this.retries--
      this.send()
      return
    }
    this.appender.failed()
    // Class 22 is a data exception: input that got past validation but that PostgreSQL refuses.
    // Nothing was stored.
    this.finish(Effect.fail(
      error.code?.startsWith("22")
        ? new InvalidEvent({ index: -1, field: "data", reason: `was refused by PostgreSQL: ${error.message}` })
        : unavailable(error.message)
    ))
  }

  private outcome(row: AppendRow | undefined): Effect.Effect<AppendResult, AppendError> {
    if (!row) return Effect.fail(unavailable("recount_append returned no row"))
    const p = this.prepared
    switch (row.status) {
      case 0:
      case 1:
      case 2:
        if (row.status === 0 && p.events.length > 0) this.appender.appended(p.events.length)
        else this.appender.alreadyApplied()
        return Effect.succeed({
          streamVersion: Number(row.stream_version),
          firstVersion: Number(row.first_version),
          globalPosition: BigInt(row.global_position!),
          alreadyApplied: row.status !== 0
        })
      case 3:
        this.appender.conflict()
        return Effect.fail(
          new WrongExpectedVersion({ tenant: p.tenant, streamName: p.streamName, expected: this.expected, actual: Number(row.stream_version) })
        )
      default:
        return Effect.fail(new EventIdConflict({ eventId: row.conflict_event_id ?? "", streamName: p.streamName }))
    }
  }
}
