/**
 * The streams of a tenant, page by page, from the store's `recount_streams` table (one row per
 * stream with its version): what an operator browses before reading one stream.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { StoreUnavailable } from "@recount/core/EventStoreError"
import * as Effect from "effect/Effect"

/**
 * One stream: its version is its number of events.
 *
 * @since 0.1.0
 */
export interface StreamInfo {
  readonly streamName: string
  readonly category: string
  readonly version: number
  readonly createdAt: Date
  readonly updatedAt: Date
}

/**
 * One page of streams in name order; `next` is the name to pass as `after` for the next page.
 *
 * @since 0.1.0
 */
export interface StreamPage {
  readonly streams: ReadonlyArray<StreamInfo>
  readonly next: string | null
}

/**
 * Lists a tenant's streams (of one category, or whose names start with `prefix`), after the
 * stream name `after`, at most `limit`.
 *
 * @since 0.1.0
 */
export const list = (options: {
  readonly tenant: string
  readonly category?: string | undefined
  readonly prefix?: string | undefined
  readonly after?: string | undefined
  readonly limit: number
}): Effect.Effect<StreamPage, StoreUnavailable, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const params: Array<unknown> = [options.tenant]
    const where = ["tenant = $1"]
    if (options.category !== undefined) {
      params.push(options.category)
      where.push(`category = $${params.length}`)
    }
    if (options.prefix !== undefined && options.prefix.length > 0) {
      // Not LIKE: the prefix is data, never a pattern.
      params.push(options.prefix)
      where.push(`starts_with(stream_name, $${params.length})`)
    }
    if (options.after !== undefined) {
      params.push(options.after)
      // Keyset paging in the primary key's order, so each page is an index range.
      where.push(`stream_name > $${params.length}`)
    }
    params.push(options.limit + 1)
    const rows = yield* sql.unsafe<{ stream_name: string; category: string; version: string | number; created_at: Date; updated_at: Date }>(
      `SELECT stream_name, category, version, created_at, updated_at FROM recount_streams
       WHERE ${where.join(" AND ")} ORDER BY stream_name LIMIT $${params.length}`,
      params
    )
    const page = rows.slice(0, options.limit)
    return {
      streams: page.map((r) => ({
        streamName: r.stream_name,
        category: r.category,
        version: Number(r.version),
        createdAt: new Date(r.created_at),
        updatedAt: new Date(r.updated_at)
      })),
      next: rows.length > options.limit ? page[page.length - 1]!.stream_name : null
    }
  }).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(new StoreUnavailable({ operation: "listStreams", detail: e.message }))))
