/**
 * The suites the CLI knows. Each is loaded only when asked for, so one suite's dependencies
 * (a server, a peer library) never slow down or break another.
 *
 * @since 0.1.0
 */
import type { Suite } from "./Suite.js"

/**
 * @since 0.1.0
 */
export interface SuiteEntry {
  readonly description: string
  readonly load: () => Promise<Suite>
}

/**
 * Add a suite here, in its own module.
 *
 * @since 0.1.0
 */
export const suites: Readonly<Record<string, SuiteEntry>> = {
  store: {
    description: "event store appends and reads: Recount vs the same SQL on plain pg",
    load: () => import("./StoreBench.js").then((m) => m.suite)
  },
  commands: {
    description: "commands through a Recount node vs the plain pg floor and Emmett; latency, wake time, memory",
    load: () => import("./CommandsBench.js").then((m) => m.suite)
  },
  rpc: {
    description: "commands through the public API (WebSocket, HTTP; JSON, MessagePack) from a client process vs in-process dispatch",
    load: () => import("./RpcBench.js").then((m) => m.suite)
  },
  projections: {
    description: "projection catch-up vs a plain pg loop and Emmett's projector; live lag",
    load: () => import("./ProjectionsBench.js").then((m) => m.suite)
  },
  workflows: {
    description: "workflows started by events on one node: starts/s and workflows/s from a backlog; three-activity latency",
    load: () => import("./WorkflowsBench.js").then((m) => m.suite)
  }
}

/** @since 0.1.0 */
export const names = (): ReadonlyArray<string> => Object.keys(suites)

/** @since 0.1.0 */
export const find = (name: string): SuiteEntry | undefined => Object.hasOwn(suites, name) ? suites[name] : undefined
