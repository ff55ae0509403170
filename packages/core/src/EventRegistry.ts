/**
 * Maps event type names to `effect/Schema` classes: encodes domain events for the store and decodes
 * stored events (upcasting old schema versions first). A stored event that does not decode is a
 * typed `EventDecodeError` naming the event, never a crash.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { EventData } from "./EventEnvelope.js"
import { EventDecodeError, EventEncodeError } from "./EventStoreError.js"
import * as PlainCodec from "./internal/plainCodec.js"
import type { Upcaster } from "./Upcaster.js"

/**
 * A schema for one event type: a `Schema.TaggedClass` (or any schema whose type and encoded form
 * carry a literal `_tag`, which is the event's type name).
 *
 * @since 0.1.0
 */
export type EventSchema = Schema.Schema<any, any, never> & { readonly _tag?: string }

/** The event types that a list of schemas produces. */
export type EventOf<S extends ReadonlyArray<EventSchema>> = Schema.Schema.Type<S[number]>

/** What a stored event needs to be decoded. */
export interface StoredEvent {
  readonly eventId: string
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
}

/** A domain event encoded for the store. */
export interface EncodedEvent {
  readonly type: string
  readonly schemaVersion: number
  readonly data: unknown
}

/**
 * @since 0.1.0
 */
export interface EventRegistry<A extends { readonly _tag: string }> {
  /** The registered type names. */
  readonly types: ReadonlyArray<string>
  /** The current schema version of a type (1 plus its upcasters). */
  readonly currentVersion: (type: string) => number
  readonly encodeEither: (event: A) => Either.Either<EncodedEvent, EventEncodeError>
  readonly encode: (event: A) => Effect.Effect<EncodedEvent, EventEncodeError>
  /** Encodes a domain event as `EventData` ready to append. */
  readonly toEventData: (
    event: A,
    extra?: Omit<EventData, "type" | "schemaVersion" | "data">
  ) => Effect.Effect<EventData, EventEncodeError>
  readonly decodeEither: (event: StoredEvent) => Either.Either<A, EventDecodeError>
  readonly decode: (event: StoredEvent) => Effect.Effect<A, EventDecodeError>
}

/** The `_tag` literal of a tagged schema. */
export const tagOf = (schema: Schema.Schema<any, any, never> & { readonly _tag?: string }): string => {
  if (typeof schema._tag === "string") return schema._tag
  const ast = Schema.typeSchema(schema).ast
  const props = ast._tag === "TypeLiteral" ? ast.propertySignatures : ast._tag === "Transformation" && ast.to._tag === "TypeLiteral" ? ast.to.propertySignatures : []
  const tag = props.find((p) => p.name === "_tag")
  if (tag && tag.type._tag === "Literal" && typeof tag.type.literal === "string") return tag.type.literal
  throw new Error("the schema needs a literal `_tag` (use Schema.TaggedClass)")
}

/** Options of `make`. */
export interface MakeOptions {
  readonly upcasters?: ReadonlyArray<Upcaster> | undefined
}

const decodeFailure = (event: StoredEvent, detail: string): Either.Either<never, EventDecodeError> =>
  Either.left(new EventDecodeError({ eventId: event.eventId, eventType: event.type, schemaVersion: event.schemaVersion, detail }))

/**
 * Builds a registry from event schemas and upcasters. Throws at startup (not at run time) when two
 * schemas share a type name or an upcaster chain has a gap.
 *
 * @since 0.1.0
 */
export const make = <const S extends ReadonlyArray<EventSchema>>(
  schemas: S,
  options?: MakeOptions
): EventRegistry<EventOf<S>> => {
  type A = EventOf<S>
  const entries = new Map<string, {
    readonly encode: (a: unknown) => Either.Either<unknown, ParseResult.ParseError>
    readonly decodeTagged: (data: unknown, tag: string) => Either.Either<A, ParseResult.ParseError>
    readonly upcasters: Array<Upcaster>
  }>()
  for (const schema of schemas) {
    const type = tagOf(schema)
    if (entries.has(type)) throw new Error(`event type ${type} is registered twice`)
    const codec = PlainCodec.make(schema)
    entries.set(type, {
      encode: codec.encode as (a: unknown) => Either.Either<unknown, ParseResult.ParseError>,
      decodeTagged: codec.decodeTagged,
      upcasters: []
    })
  }
  for (const upcaster of options?.upcasters ?? []) {
    const entry = entries.get(upcaster.type)
    if (!entry) throw new Error(`upcaster for unregistered event type ${upcaster.type}`)
    entry.upcasters.push(upcaster)
  }
  for (const [type, entry] of entries) {
    entry.upcasters.sort((a, b) => a.fromVersion - b.fromVersion)
    entry.upcasters.forEach((u, i) => {
      if (u.fromVersion !== i + 1) throw new Error(`upcasters of ${type} must start at version 1 and have no gaps`)
    })
  }
  const currentVersion = (type: string) => (entries.get(type)?.upcasters.length ?? 0) + 1

  const encodeEither = (event: A): Either.Either<EncodedEvent, EventEncodeError> => {
    const type = (event as { _tag?: unknown } | null)?._tag
    const entry = typeof type === "string" ? entries.get(type) : undefined
    if (!entry) return Either.left(new EventEncodeError({ eventType: String(type), detail: "the event type is not registered" }))
    // Per event on every command: no closures (tsx names each one).
    const encoded = entry.encode(event)
    if (Either.isLeft(encoded)) {
      return Either.left(new EventEncodeError({ eventType: type as string, detail: ParseResult.TreeFormatter.formatErrorSync(encoded.left) }))
    }
    const { _tag, ...data } = encoded.right as Record<string, unknown>
    return Either.right({ type: type as string, schemaVersion: entry.upcasters.length + 1, data })
  }

  const decodeEither = (event: StoredEvent): Either.Either<A, EventDecodeError> => {
    // Per event on every read path: no closures made unless it fails (tsx also names each one).
    const entry = entries.get(event.type)
    if (!entry) return decodeFailure(event, "the event type is not registered")
    const current = entry.upcasters.length + 1
    if (event.schemaVersion > current) return decodeFailure(event, `schema version ${event.schemaVersion} is newer than this code's ${current}`)
    let data = event.data
    for (let v = event.schemaVersion; v < current; v++) {
      const upcaster = entry.upcasters[v - 1]!
      try {
        if (upcaster.from) {
          const old = Schema.decodeUnknownEither(upcaster.from)(data)
          if (Either.isLeft(old)) return decodeFailure(event, `as version ${v}: ${ParseResult.TreeFormatter.formatErrorSync(old.left)}`)
          data = upcaster.upcast(old.right)
        } else {
          data = upcaster.upcast(data)
        }
      } catch (e) {
        return decodeFailure(event, `upcasting from version ${v} threw: ${e instanceof Error ? e.message : String(e)}`)
      }
    }
    // Stored data is kept without its tag; the codec decodes it as if the tag were there.
    const decoded = entry.decodeTagged(data, event.type)
    return Either.isRight(decoded) ? decoded as Either.Either<A, never> : decodeFailure(event, ParseResult.TreeFormatter.formatErrorSync(decoded.left))
  }

  return {
    types: [...entries.keys()],
    currentVersion,
    encodeEither,
    encode: (event) => Effect.suspend(() => encodeEither(event)),
    toEventData: (event, extra) => Effect.map(Effect.suspend(() => encodeEither(event)), (e) => ({ ...extra, ...e })),
    decodeEither,
    decode: (event) => Effect.suspend(() => decodeEither(event))
  }
}
