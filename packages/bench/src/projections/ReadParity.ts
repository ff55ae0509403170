/**
 * Checks that the plain loop still reads the log with the statement Recount's projector sends: the
 * comparison is only fair while both do the same SQL work, and Recount's read can change under the
 * benchmark (as `store/SqlParity.ts` does for the store suite).
 *
 * @since 0.1.0
 */
import * as Checkpoint from "@recount/core/Checkpoint"
import { EventStore } from "@recount/core/EventStore"
import { PgPool } from "@recount/postgres/PgPool"
import * as Effect from "effect/Effect"
import { recording } from "../store/SqlParity.js"
import * as PlainProjector from "./PlainProjector.js"
import * as ReadModel from "./ReadModel.js"
import type { RecountRuntime } from "./RecountProjector.js"

/**
 * Reads a page of the log as a projection of the suite's event type does; returns the problem when
 * Recount sent anything but the plain loop's statement (`undefined` when they match).
 *
 * @since 0.1.0
 */
export const check = (runtime: RecountRuntime, pageSize: number): Promise<string | undefined> =>
  runtime.runPromise(Effect.gen(function*() {
    const store = yield* EventStore
    const pool = yield* PgPool
    const sent = yield* recording(pool, store.readAll({ after: Checkpoint.start, eventTypes: [ReadModel.eventType], batchSize: pageSize }))
    return sent.length === 1 && sent[0] === PlainProjector.readPageSql
      ? undefined
      : `the projector's read sent ${JSON.stringify(sent)}; the plain loop sends ${JSON.stringify(PlainProjector.readPageSql)}`
  }))
