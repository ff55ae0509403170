import { Snowflake } from "@effect/cluster"
import * as SqlClient from "@effect/sql/SqlClient"
import type { ExecutionState, TriggeringEvent, WorkflowExecution } from "@recount/core/WorkflowStatus"
import * as Effect from "effect/Effect"

/**
 * Executions as `ClusterWorkflowEngine` keeps them: each is a persisted `run` message to the
 * entity `Workflow/<name>` (its payload is the workflow's), and its reply, once there is one, says
 * whether it suspended or ended and how. Reading both tables at once lets the state be a filter in
 * SQL instead of one poll per execution.
 */
interface Row {
  readonly id: string
  readonly entity_type: string
  readonly entity_id: string
  readonly payload: string
  readonly reply_id: string | null
  readonly reply: string | null
  readonly state: ExecutionState
}

const stateSql = `CASE
    WHEN r.payload IS NULL THEN 'running'
    WHEN r.payload::jsonb #>> '{value,_tag}' = 'Suspended' THEN 'suspended'
    WHEN r.payload::jsonb ->> '_tag' = 'Success' AND r.payload::jsonb #>> '{value,exit,_tag}' = 'Success' THEN 'completed'
    ELSE 'failed'
  END`

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const parse = (text: string | null): unknown => {
  if (text === null) return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined

/** An encoded `Cause` on one line: the failure's tag and what it says, or the defect's message. */
const describeCause = (cause: unknown): string => {
  switch (field(cause, "_tag")) {
    case "Fail": {
      const failure = field(cause, "error")
      const tag = field(failure, "_tag")
      const detail = field(failure, "reason") ?? field(failure, "message")
      return tag === undefined ? JSON.stringify(failure) : `${String(tag)}${detail === undefined ? "" : `: ${String(detail)}`}`
    }
    case "Die": {
      const defect = field(cause, "defect")
      return `defect: ${String(field(defect, "message") ?? (typeof defect === "string" ? defect : JSON.stringify(defect)))}`
    }
    case "Interrupt":
      return "interrupted"
    case "Sequential":
    case "Parallel":
      return describeCause(field(cause, "left"))
    default:
      return JSON.stringify(cause) ?? "unknown"
  }
}

const errorOf = (row: Row): string | null => {
  if (row.state !== "failed") return null
  const exit = parse(row.reply)
  // The run handler's own exit, or the workflow's exit inside a `Complete` result.
  const inner = field(exit, "_tag") === "Success" ? field(field(exit, "value"), "exit") : exit
  return describeCause(field(inner, "cause")).replace(/\s+/g, " ")
}

const timeOf = (snowflake: string) => new Date(Snowflake.timestamp(Snowflake.Snowflake(snowflake)))

/** What to list: the executions of these workflows, newest first. */
export interface Query {
  readonly workflows: ReadonlyArray<string>
  readonly state?: ExecutionState | undefined
  readonly executionId?: string | undefined
  readonly limit: number
}

/** The executions matching the query, with their triggering events. */
export const list = (query: Query) =>
  Effect.gen(function*() {
    if (query.workflows.length === 0) return []
    const sql = yield* SqlClient.SqlClient
    const params: Array<unknown> = [query.workflows.map((w) => `Workflow/${w}`)]
    const where = [`m.entity_type = ANY($1)`, `m.tag = 'run'`, `m.kind = 0`]
    if (query.state !== undefined) {
      params.push(query.state)
      where.push(`${stateSql} = $${params.length}`)
    }
    if (query.executionId !== undefined) {
      params.push(query.executionId)
      where.push(`m.entity_id = $${params.length}`)
    }
    params.push(query.limit)
    const rows = yield* sql.unsafe<Row>(
      `SELECT m.id::text AS id, m.entity_type, m.entity_id, m.payload, r.id::text AS reply_id, r.payload AS reply, ${stateSql} AS state
       FROM cluster_messages m
       LEFT JOIN cluster_replies r ON r.request_id = m.request_id AND r.kind = 0
       WHERE ${where.join(" AND ")}
       ORDER BY m.id DESC
       LIMIT $${params.length}`,
      params
    )
    const eventIds = [...new Set(rows.map((row) => field(parse(row.payload), "triggeringEventId")).filter((id): id is string => typeof id === "string" && uuid.test(id)))]
    const events = eventIds.length === 0 ? [] : yield* sql.unsafe<{
      event_id: string
      event_type: string
      tenant: string
      stream_name: string
      stream_version: string | number
      recorded_at: Date
    }>(
      `SELECT event_id::text AS event_id, event_type, tenant, stream_name, stream_version, recorded_at FROM recount_events WHERE event_id = ANY($1::uuid[])`,
      [eventIds]
    )
    const byId = new Map(events.map((e): [string, TriggeringEvent] => [e.event_id, {
      eventId: e.event_id,
      type: e.event_type,
      tenant: e.tenant,
      streamName: e.stream_name,
      streamVersion: Number(e.stream_version),
      recordedAt: new Date(e.recorded_at)
    }]))
    return rows.map((row): WorkflowExecution => {
      const payload = parse(row.payload)
      const triggeringEventId = field(payload, "triggeringEventId")
      const attempt = field(payload, "attempt")
      return {
        workflow: row.entity_type.slice("Workflow/".length),
        executionId: row.entity_id,
        state: row.state,
        attempt: typeof attempt === "number" ? attempt : 1,
        payload,
        triggeringEventId: typeof triggeringEventId === "string" ? triggeringEventId : null,
        triggeringEvent: typeof triggeringEventId === "string" ? byId.get(triggeringEventId.toLowerCase()) ?? null : null,
        startedAt: timeOf(row.id),
        updatedAt: row.reply_id === null ? null : timeOf(row.reply_id),
        error: errorOf(row)
      }
    })
  })
