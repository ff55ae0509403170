/**
 * Stream names: `<category>-<id>`, owned by a tenant.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { InvalidStreamName } from "./EventStoreError.js"

/** Longest accepted category, in characters. */
export const maxCategoryLength = 128
/** Longest accepted stream name, in characters. */
export const maxLength = 512

/**
 * A validated stream name. The category is everything before the first `-`.
 *
 * @since 0.1.0
 */
export const StreamName = Schema.String.pipe(Schema.brand("@recount/StreamName"))
/** @since 0.1.0 */
export type StreamName = typeof StreamName.Type

/** The parts of a stream name. */
export interface Parsed {
  readonly streamName: StreamName
  readonly category: string
  readonly id: string
}

const invalid = (value: string, reason: string) => Either.left(new InvalidStreamName({ value, reason }))

/**
 * Checks a stream name and splits it into category and id.
 *
 * @since 0.1.0
 */
export const parse = (value: string): Either.Either<Parsed, InvalidStreamName> => {
  if (typeof value !== "string" || value.length === 0) return invalid(String(value), "the stream name is empty")
  if (value.length > maxLength) return invalid(value.slice(0, 64) + "…", `the stream name is longer than ${maxLength} characters`)
  if (hasControlCharacter(value)) return invalid(value, "the stream name contains a NUL or control character")
  const dash = value.indexOf("-")
  if (dash <= 0) return invalid(value, "a stream name is `<category>-<id>` and this one has no category before a `-`")
  if (dash === value.length - 1) return invalid(value, "a stream name is `<category>-<id>` and this one has no id after the `-`")
  if (dash > maxCategoryLength) return invalid(value, `the category is longer than ${maxCategoryLength} characters`)
  return Either.right({ streamName: value as StreamName, category: value.slice(0, dash), id: value.slice(dash + 1) })
}

/**
 * Builds `<category>-<id>`, failing with `InvalidStreamName` when either part is unusable.
 *
 * @since 0.1.0
 */
export const make = (category: string, id: string): Either.Either<StreamName, InvalidStreamName> => {
  if (category.includes("-")) return invalid(`${category}-${id}`, "the category must not contain `-`")
  return Either.map(parse(`${category}-${id}`), (p) => p.streamName)
}

/**
 * Builds a stream name and throws when it is invalid; for constants in application code.
 *
 * @since 0.1.0
 */
export const unsafeMake = (category: string, id: string): StreamName =>
  Either.getOrThrowWith(make(category, id), (e) => new Error(e.message))

/** @internal */
export const hasControlCharacter = (value: string): boolean => {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}
