/**
 * The data every run starts from: a 10,000-event stream for the stream read and enough other
 * events that the global log read has its fill, written before anything is measured.
 *
 * Seeding first matters for the appends too. PostgreSQL plans the statements inside
 * `recount_append` once per connection and may keep a plan made while `recount_events` was nearly
 * empty (a sequential scan, for the event-id check), which then costs more with every event
 * appended. Whether a connection gets such a plan depends on when it first appended, which would
 * make the comparison a lottery; with a full, analysed table every connection plans the same.
 *
 * @since 0.1.0
 */
import pg from "pg"
import * as Events from "./Events.js"
import * as PlainPg from "./PlainPg.js"

const batch = 100

const fill = async (client: pg.Client, streamName: string, accountId: string, length: number) => {
  for (let version = 0; version < length; version += batch) {
    await PlainPg.append(client, streamName, Events.deposits(accountId, version, Math.min(batch, length - version)), version)
  }
}

/**
 * Writes `streamLength` events to `stream`, then other streams up to `logEvents` events in all.
 *
 * @since 0.1.0
 */
export const seed = async (
  url: string,
  stream: { readonly streamName: string; readonly accountId: string },
  streamLength: number,
  logEvents: number
): Promise<void> => {
  // A connection of its own, closed afterwards, so no measured pool inherits its plans.
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    // Re-plans each statement with the table's current size, so seeding itself stays linear.
    await client.query("SET plan_cache_mode = force_custom_plan")
    await fill(client, stream.streamName, stream.accountId, streamLength)
    for (let written = streamLength; written < logEvents; written += 10_000) {
      const filler = Events.freshStream("b")
      await fill(client, filler.streamName, filler.accountId, Math.min(10_000, logEvents - written))
    }
    // Statistics for the planner, hint bits and the visibility map for the readers.
    await client.query("VACUUM ANALYZE recount_events")
    await client.query("VACUUM ANALYZE recount_streams")
  } finally {
    await client.end()
  }
}
