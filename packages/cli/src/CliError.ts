/**
 * The CLI's own errors, besides the typed errors of the API it calls. Each message is the one line
 * the CLI prints before exiting non-zero.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The node did not answer: nothing listens at the URL, or the connection broke.
 *
 * @since 0.1.0
 */
export class CannotReach extends Schema.TaggedError<CannotReach>()("CannotReach", { url: Schema.String, detail: Schema.String }) {
  override get message() {
    return `cannot reach ${this.url}: ${this.detail}`
  }
}

/**
 * Neither `--key` nor `RECOUNT_KEY` gave an API key.
 *
 * @since 0.1.0
 */
export class MissingApiKey extends Schema.TaggedError<MissingApiKey>()("MissingApiKey", {}) {
  override get message() {
    return "no API key: pass --key or set RECOUNT_KEY"
  }
}

/**
 * Options that cannot go together, or a value the command cannot use.
 *
 * @since 0.1.0
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { detail: Schema.String }) {
  override get message() {
    return this.detail
  }
}

/**
 * A rebuild ended without swapping the views to the new version (a strict rebuild failed and
 * dropped its tables).
 *
 * @since 0.1.0
 */
export class RebuildFailed extends Schema.TaggedError<RebuildFailed>()("RebuildFailed", {
  projection: Schema.String,
  version: Schema.Number,
  lastError: Schema.NullOr(Schema.String)
}) {
  override get message() {
    return `rebuild of ${this.projection} to version ${this.version} stopped without swapping${this.lastError ? `: ${this.lastError}` : ""}`
  }
}
