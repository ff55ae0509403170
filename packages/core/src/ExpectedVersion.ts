/**
 * What a writer believes about a stream before it appends: the optimistic concurrency check.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** Append whatever the stream's version. */
export class Any extends Schema.TaggedClass<Any>()("Any", {}) {}
/** Append only if the stream has no events yet. */
export class NoStream extends Schema.TaggedClass<NoStream>()("NoStream", {}) {}
/** Append only if the stream has at least one event. */
export class StreamExists extends Schema.TaggedClass<StreamExists>()("StreamExists", {}) {}
/** Append only if the stream's version is exactly `version` (0 means no events). */
export class Exact extends Schema.TaggedClass<Exact>()("Exact", {
  version: Schema.Int.pipe(Schema.nonNegative())
}) {}

/**
 * @since 0.1.0
 */
export const ExpectedVersion = Schema.Union(Any, NoStream, StreamExists, Exact)
/** @since 0.1.0 */
export type ExpectedVersion = typeof ExpectedVersion.Type

/** @since 0.1.0 */
export const any: ExpectedVersion = new Any()
/** @since 0.1.0 */
export const noStream: ExpectedVersion = new NoStream()
/** @since 0.1.0 */
export const streamExists: ExpectedVersion = new StreamExists()
/** @since 0.1.0 */
export const exact = (version: number): ExpectedVersion =>
  // Construction through the class costs over a microsecond even unvalidated, on every command:
  // check the one field by hand and build the instance from its prototype.
  Number.isSafeInteger(version) && version >= 0
    ? Object.assign(Object.create(Exact.prototype) as Exact, { version, _tag: "Exact" as const })
    : new Exact({ version })

/**
 * Whether a stream at `actual` (0 = no events) satisfies the expectation.
 *
 * @since 0.1.0
 */
export const matches = (expected: ExpectedVersion, actual: number): boolean => {
  switch (expected._tag) {
    case "Any":
      return true
    case "NoStream":
      return actual === 0
    case "StreamExists":
      return actual > 0
    case "Exact":
      return actual === expected.version
  }
}

/** @since 0.1.0 */
export const format = (expected: ExpectedVersion): string =>
  expected._tag === "Exact" ? String(expected.version) : expected._tag
