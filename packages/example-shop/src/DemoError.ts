/**
 * What can go wrong in `npm run demo`: each names what was wrong, in one line.
 */
import * as Schema from "effect/Schema"

/** The node did not answer. */
export class CannotReach extends Schema.TaggedError<CannotReach>()("CannotReach", { url: Schema.String, detail: Schema.String }) {
  override get message() {
    return `cannot reach ${this.url}: ${this.detail}`
  }
}

/** The node refused the key before the load started. */
export class KeyRefused extends Schema.TaggedError<KeyRefused>()("KeyRefused", { reason: Schema.String }) {
  override get message() {
    return `the node refused the API key: ${this.reason}`
  }
}

/** A call the node did not answer in time (counted among the failed commands). */
export class NoAnswer extends Schema.TaggedError<NoAnswer>()("NoAnswer", { seconds: Schema.Number }) {}

/** No key from the flag or the environment. */
export class MissingApiKey extends Schema.TaggedError<MissingApiKey>()("MissingApiKey", {}) {
  override get message() {
    return "no API key: pass --key or set RECOUNT_KEY (npm start prints a development key)"
  }
}
