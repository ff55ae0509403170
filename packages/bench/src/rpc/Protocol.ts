/**
 * The messages between the bench (which hosts the node) and its client process
 * (`ClientChild.ts`), over the child's IPC channel.
 *
 * @since 0.1.0
 */

/**
 * The ways in from outside the node's process.
 *
 * @since 0.1.0
 */
export type Face = "websocket-json" | "websocket-msgpack" | "http-rpc" | "http-json"

/** @since 0.1.0 */
export const faces: ReadonlyArray<Face> = ["websocket-json", "websocket-msgpack", "http-rpc", "http-json"]

/** @since 0.1.0 */
export const labels: Readonly<Record<Face, string>> = {
  "websocket-json": "WebSocket JSON (typed client)",
  "websocket-msgpack": "WebSocket MessagePack (typed client)",
  "http-rpc": "HTTP RPC ndjson (typed client)",
  "http-json": "HTTP+JSON face (fetch)"
}

/** @since 0.1.0 */
export interface Init {
  readonly _tag: "Init"
  /** The node's base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string
  readonly apiKey: string
  readonly tenant: string
  readonly ids: ReadonlyArray<string>
  readonly clients: number
}

/**
 * Work for `millis` from when the child reads this; the child keeps its own clock, so a round's
 * length, not a deadline, crosses the process boundary.
 *
 * @since 0.1.0
 */
export interface Run {
  readonly _tag: "Run"
  readonly round: number
  readonly face: Face
  readonly millis: number
}

/**
 * A `Run` under a CPU profile of the client process, written to `path`.
 *
 * @since 0.1.0
 */
export interface Profile extends Omit<Run, "_tag"> {
  readonly _tag: "Profile"
  readonly path: string
}

/** @since 0.1.0 */
export interface Stop {
  readonly _tag: "Stop"
}

/** @since 0.1.0 */
export type Request = Init | Run | Profile | Stop

/** @since 0.1.0 */
export interface Ready {
  readonly _tag: "Ready"
}

/** @since 0.1.0 */
export interface Done {
  readonly _tag: "Done"
  readonly round: number
  /** Commands that finished by the round's end. */
  readonly units: number
  /** The time they took at the callers' combined rate (see `Callers.tally`). */
  readonly millis: number
  /** Their round trips, in milliseconds. */
  readonly latencies: ReadonlyArray<number>
  /** The client process's CPU time during the round. */
  readonly cpuMicros: number
}

/** @since 0.1.0 */
export interface Failed {
  readonly _tag: "Failed"
  readonly message: string
}

/** @since 0.1.0 */
export type Reply = Ready | Done | Failed
