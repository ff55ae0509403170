import * as Either from "effect/Either"
import type { EventData } from "../EventEnvelope.js"
import { EventTooLarge, InvalidArgument, InvalidEvent, type InvalidStreamName } from "../EventStoreError.js"
import type { EventStoreConfigShape } from "../EventStoreConfig.js"
import * as StreamName from "../StreamName.js"

/** An event checked and serialised once, ready for any store. */
export interface PreparedEvent {
  readonly eventId: string
  readonly type: string
  readonly schemaVersion: number
  readonly dataJson: string
  readonly metadataJson: string
  readonly correlationId: string | null
  readonly causationId: string | null
}

export interface PreparedAppend {
  readonly tenant: string
  readonly streamName: string
  readonly category: string
  readonly commandId: string | null
  readonly events: ReadonlyArray<PreparedEvent>
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export const maxTenantLength = 128
export const maxIdLength = 256
export const maxTypeLength = 256

/** Checks a short identifier (tenant, command id, event type): non-empty, bounded, printable. */
export const checkName = (value: unknown, max: number): string | undefined => {
  if (typeof value !== "string") return "must be a string"
  if (value.length === 0) return "must not be empty"
  if (value.length > max) return `must be at most ${max} characters`
  if (StreamName.hasControlCharacter(value)) return "must not contain NUL or control characters"
  return undefined
}

export const tenant = (value: string | undefined, config: EventStoreConfigShape): Either.Either<string, InvalidArgument> => {
  if (value === undefined) return Either.right(config.defaultTenant)
  const problem = checkName(value, maxTenantLength)
  return problem ? Either.left(new InvalidArgument({ argument: "tenant", reason: problem })) : Either.right(value)
}

/** The tenant and stream of a call, checked the same way by every store. */
export const resolveStream = (
  streamName: string,
  tenantName: string | undefined,
  config: EventStoreConfigShape
): Either.Either<{ readonly tenant: string; readonly streamName: string; readonly category: string }, InvalidArgument | InvalidStreamName> => {
  const t = tenant(tenantName, config)
  if (Either.isLeft(t)) return Either.left(t.left)
  const parsed = StreamName.parse(streamName)
  if (Either.isLeft(parsed)) return Either.left(parsed.left)
  return Either.right({ tenant: t.right, streamName: parsed.right.streamName, category: parsed.right.category })
}

export const positiveInt = (argument: string, value: number | undefined, fallback: number): Either.Either<number, InvalidArgument> => {
  if (value === undefined) return Either.right(fallback)
  return Number.isSafeInteger(value) && value > 0
    ? Either.right(value)
    : Either.left(new InvalidArgument({ argument, reason: `must be a positive integer, got ${value}` }))
}

/** The limit and start version of a stream read, checked the same way by every store. */
export const readStreamRange = (
  options: { readonly limit?: number | undefined; readonly fromVersion?: number | undefined } | undefined
): Either.Either<{ readonly limit: number; readonly fromVersion: number | undefined }, InvalidArgument> => {
  const limit = positiveInt("limit", options?.limit, Number.MAX_SAFE_INTEGER)
  if (Either.isLeft(limit)) return Either.left(limit.left)
  const from = options?.fromVersion
  if (from !== undefined && (!Number.isSafeInteger(from) || from < 0)) {
    return Either.left(new InvalidArgument({ argument: "fromVersion", reason: `must be a non-negative integer, got ${from}` }))
  }
  return Either.right({ limit: limit.right, fromVersion: from })
}

const utf8Length = (s: string): number => {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

/** Why PostgreSQL's jsonb would refuse a string: a NUL, or a lone UTF-16 surrogate. */
const unstorable = (s: string): string | undefined =>
  s.includes("\u0000") ? "contains a NUL character, which cannot be stored" :
  isWellFormed(s) ? undefined : "contains a lone UTF-16 surrogate, which is not valid Unicode"

/** Finds the first string (or key) that PostgreSQL's jsonb would refuse, with its path. */
const findUnstorable = (value: unknown, path: string): { path: string; reason: string } | undefined => {
  if (typeof value === "string") {
    const reason = unstorable(value)
    return reason ? { path, reason } : undefined
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], `${path}[${i}]`)
      if (found) return found
    }
    return undefined
  }
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const reason = unstorable(k)
      if (reason) return { path: `${path} (a key)`, reason }
      const found = findUnstorable(v, `${path}.${k}`)
      if (found) return found
    }
  }
  return undefined
}

// JSON.stringify escapes exactly these two cases, so clean data skips the walk.
const suspicious = /\\u0000|\\ud[89a-f]/i

// The per-event path below returns either its result or an error instance, without wrapping
// either: it runs for every event of every append, and each allocation showed in the profile.

const toJson = (value: unknown, index: number, field: string): string | InvalidEvent => {
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch (e) {
    return new InvalidEvent({ index, field, reason: `is not JSON: ${(e as Error).message}` })
  }
  if (json === undefined) return new InvalidEvent({ index, field, reason: "is not JSON (undefined or a function)" })
  // indexOf is far cheaper than the regex, and almost no JSON has a \u escape at all.
  if (json.indexOf("\\u") !== -1 && suspicious.test(json)) {
    const found = findUnstorable(value, field)
    if (found) return new InvalidEvent({ index, field: found.path, reason: found.reason })
  }
  return json
}

const optionalName = (value: unknown, index: number, field: string): string | null | InvalidEvent => {
  if (value === undefined || value === null) return null
  const problem = checkName(value, maxIdLength)
  return problem ? new InvalidEvent({ index, field, reason: problem }) : value as string
}

// Event types repeat; remember the ones already checked (bounded, since types are few).
const knownTypes = new Set<string>()

const checkType = (type: unknown): string | undefined => {
  if (typeof type === "string" && knownTypes.has(type)) return undefined
  const problem = checkName(type, maxTypeLength)
  if (!problem && knownTypes.size < 10_000) knownTypes.add(type as string)
  return problem
}

const prepareEvent = (
  event: EventData,
  index: number,
  config: EventStoreConfigShape
): PreparedEvent | InvalidEvent | EventTooLarge => {
  if (event === null || typeof event !== "object") {
    return new InvalidEvent({ index, field: "event", reason: "must be an object" })
  }
  const typeProblem = checkType(event.type)
  if (typeProblem) return new InvalidEvent({ index, field: "type", reason: typeProblem })
  let eventId: string
  if (event.eventId === undefined) {
    eventId = globalThis.crypto.randomUUID()
  } else {
    eventId = typeof event.eventId === "string" ? event.eventId.toLowerCase() : ""
    if (!uuidPattern.test(eventId)) {
      return new InvalidEvent({ index, field: "eventId", reason: `must be a UUID, got ${JSON.stringify(event.eventId)}` })
    }
  }
  const schemaVersion = event.schemaVersion ?? 1
  if (!Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > 2_147_483_647) {
    return new InvalidEvent({ index, field: "schemaVersion", reason: `must be a positive integer, got ${schemaVersion}` })
  }
  const metadata = event.metadata ?? {}
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
    return new InvalidEvent({ index, field: "metadata", reason: "must be a JSON object" })
  }
  const dataJson = toJson(event.data, index, "data")
  if (typeof dataJson !== "string") return dataJson
  const metadataJson = event.metadata === undefined ? "{}" : toJson(metadata, index, "metadata")
  if (typeof metadataJson !== "string") return metadataJson
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short events skip the byte count.
  if ((dataJson.length + metadataJson.length) * 3 > config.maxEventBytes) {
    const bytes = utf8Length(dataJson) + utf8Length(metadataJson)
    if (bytes > config.maxEventBytes) return new EventTooLarge({ index, eventType: event.type, bytes, limit: config.maxEventBytes })
  }
  const correlationId = optionalName(event.correlationId, index, "correlationId")
  if (correlationId instanceof InvalidEvent) return correlationId
  const causationId = optionalName(event.causationId, index, "causationId")
  if (causationId instanceof InvalidEvent) return causationId
  return { eventId, type: event.type, schemaVersion, dataJson, metadataJson, correlationId, causationId }
}

/** Checks everything about an append that does not need the store. */
export const prepareAppend = (
  streamName: string,
  events: ReadonlyArray<EventData>,
  options: { readonly tenant?: string | undefined; readonly commandId?: string | undefined },
  config: EventStoreConfigShape
): Either.Either<PreparedAppend, InvalidStreamName | InvalidArgument | InvalidEvent | EventTooLarge> => {
  const stream = resolveStream(streamName, options.tenant, config)
  if (Either.isLeft(stream)) return Either.left(stream.left)
  let commandId: string | null = null
  if (options.commandId !== undefined) {
    const problem = checkName(options.commandId, maxIdLength)
    if (problem) return Either.left(new InvalidArgument({ argument: "commandId", reason: problem }))
    commandId = options.commandId
  }
  if (!Array.isArray(events)) return Either.left(new InvalidArgument({ argument: "events", reason: "must be an array" }))
  const prepared: Array<PreparedEvent> = new Array(events.length)
  // Generated ids cannot repeat; only ids given by the caller need the check.
  const seen = events.length > 1 ? new Set<string>() : undefined
  for (let i = 0; i < events.length; i++) {
    const event = prepareEvent(events[i]!, i, config)
    if (event instanceof InvalidEvent || event instanceof EventTooLarge) return Either.left(event)
    if (seen && events[i]!.eventId !== undefined) {
      if (seen.has(event.eventId)) {
        return Either.left(new InvalidEvent({ index: i, field: "eventId", reason: `repeats ${event.eventId} within one append` }))
      }
      seen.add(event.eventId)
    }
    prepared[i] = event
  }
  // Fields by name: a spread here was most of this function's cost for a one-event append.
  const { category, streamName: name, tenant: tenantName } = stream.right
  return Either.right({ tenant: tenantName, streamName: name, category, commandId, events: prepared })
}
