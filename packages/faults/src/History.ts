/**
 * The recorded history of a run, Jepsen style: every operation a client invoked and how each
 * attempt ended, with wall-clock times, one JSON object per line in a file per client.
 *
 * An operation is one command with one command id. Its attempts end `ok` (acknowledged, with the
 * result), `fail` (a definite refusal: nothing was applied by it) or `unknown` (a timeout, a
 * lost connection: it may or may not have been applied). Unknown attempts are retried with the
 * same command id; an operation still unknown when its client stops stays unknown.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { appendFileSync, readFileSync } from "node:fs"

/** An event an acknowledged command reported. */
export const AckedEvent = Schema.Struct({ eventId: Schema.String, type: Schema.String, streamVersion: Schema.Number })

/** @since 0.1.0 */
export const Record = Schema.Union(
  Schema.TaggedStruct("invoke", {
    at: Schema.Number,
    client: Schema.String,
    commandId: Schema.String,
    aggregate: Schema.String,
    aggregateId: Schema.String,
    command: Schema.Unknown
  }),
  Schema.TaggedStruct("ok", {
    at: Schema.Number,
    commandId: Schema.String,
    attempt: Schema.Number,
    streamVersion: Schema.Number,
    globalPosition: Schema.String,
    alreadyApplied: Schema.Boolean,
    events: Schema.Array(AckedEvent)
  }),
  Schema.TaggedStruct("fail", { at: Schema.Number, commandId: Schema.String, attempt: Schema.Number, error: Schema.String }),
  Schema.TaggedStruct("unknown", { at: Schema.Number, commandId: Schema.String, attempt: Schema.Number, error: Schema.String })
)
/** @since 0.1.0 */
export type Record = typeof Record.Type

/** How an operation ended. */
export type Outcome = "ok" | "fail" | "unknown"

/**
 * One operation folded from its records.
 *
 * @since 0.1.0
 */
export interface Operation {
  readonly client: string
  readonly commandId: string
  readonly aggregate: string
  readonly aggregateId: string
  readonly command: unknown
  readonly invokedAt: number
  readonly outcome: Outcome
  /** When it was acknowledged or refused; undefined while unknown. */
  readonly completedAt: number | undefined
  readonly attempts: number
  /** True when an attempt before the last was unknown (so a refusal does not prove nothing happened). */
  readonly hadUnknown: boolean
  readonly ack: Extract<Record, { readonly _tag: "ok" }> | undefined
  readonly error: string | undefined
}

const encodeLine = Schema.encodeSync(Schema.parseJson(Record))
const decodeLine = Schema.decodeUnknownSync(Schema.parseJson(Record))

/** Appends one record to a history file (synchronously: a killed client loses nothing it wrote). */
export const append = (path: string, record: Record): void => appendFileSync(path, encodeLine(record) + "\n")

/** Reads the records of a history file; a torn last line (a client killed mid-write) is dropped. */
export const read = (path: string): ReadonlyArray<Record> => {
  const lines = readFileSync(path, "utf8").split("\n").filter((line) => line.length > 0)
  const records: Array<Record> = []
  for (const line of lines) {
    try {
      records.push(decodeLine(line))
    } catch {
      // A torn line: the client died while writing it.
    }
  }
  return records
}

/**
 * Folds records (of any number of clients) into operations, in invocation order.
 *
 * @since 0.1.0
 */
export const operations = (records: ReadonlyArray<Record>): ReadonlyArray<Operation> => {
  const ops = new Map<string, Operation>()
  for (const record of records) {
    if (record._tag === "invoke") {
      ops.set(record.commandId, {
        client: record.client,
        commandId: record.commandId,
        aggregate: record.aggregate,
        aggregateId: record.aggregateId,
        command: record.command,
        invokedAt: record.at,
        outcome: "unknown",
        completedAt: undefined,
        attempts: 0,
        hadUnknown: false,
        ack: undefined,
        error: undefined
      })
      continue
    }
    const op = ops.get(record.commandId)
    if (op === undefined) continue
    ops.set(record.commandId, {
      ...op,
      attempts: op.attempts + 1,
      outcome: record._tag,
      completedAt: record._tag === "unknown" ? op.completedAt : record.at,
      hadUnknown: op.hadUnknown || record._tag === "unknown",
      ack: record._tag === "ok" ? record : op.ack,
      error: record._tag === "ok" ? undefined : record.error
    })
  }
  return [...ops.values()].sort((a, b) => a.invokedAt - b.invokedAt)
}
