/**
 * The second baseline: Emmett's PostgreSQL projector (`postgreSQLEventStoreConsumer` with a
 * `projector` of a `postgreSQLProjection`) catching up the same read model from Emmett's own event
 * store, which holds the same deposits appended with Emmett's `appendToStream`.
 *
 * Emmett's consumer reads a page of `batchSize` messages, then opens one transaction for the page
 * in which it calls the projection once per event and stores its checkpoint after each event. The
 * projection's handler sends the very upsert the other sides send, with parameters, on the
 * transaction's own `pg` client, so what differs is Emmett's processing, not the SQL.
 *
 * Emmett's puller sleeps between pages (`pullingFrequencyInMs`, 50 ms by default, and 100 ms before
 * the second page whatever the setting). The bench sets the frequency to 0, Emmett's best case for
 * catching up; the fixed first 100 ms stays in its time.
 *
 * Emmett's driver sets process-wide `pg` type parsers (int8 to BigInt, JSON through its reviver)
 * the first time a pool is made; as in `commands/EmmettCommands.ts`, Emmett's store gets a pool of
 * its own whose connections use Emmett's parsers, and the process-wide ones are put back. The
 * consumer makes its own pool (dumbo's, one per URL), which therefore parses as `pg` does by default;
 * Emmett converts positions and checkpoints with `BigInt` itself, so it works the same, and plain
 * `JSON.parse` is if anything cheaper than Emmett's reviver.
 *
 * @since 0.1.0
 */
import type { Event } from "@event-driven-io/emmett"
import {
  getPostgreSQLEventStore,
  postgreSQLEventStoreConsumer,
  postgreSQLProjection,
  type PostgresEventStore
} from "@event-driven-io/emmett-postgresql"
import pg from "pg"
import type { Deposit } from "../store/Events.js"
import type { Write } from "./Log.js"
import * as ReadModel from "./ReadModel.js"

type MoneyDeposited = Event<typeof ReadModel.eventType, {
  accountId: Deposit["accountId"]
  amount: Deposit["amount"]
  currency: Deposit["currency"]
  note: Deposit["note"]
}>

/** The type ids Emmett's driver layer overrides process-wide. */
const overridden = [20, 114, 3802] as const

/**
 * @since 0.1.0
 */
export interface Emmett {
  readonly url: string
  readonly pool: pg.Pool
  readonly store: PostgresEventStore
  readonly close: () => Promise<void>
}

/**
 * Emmett's store on a pool of `poolSize` connections, its `emt_*` tables created.
 *
 * @since 0.1.0
 */
export const make = async (url: string, poolSize: number): Promise<Emmett> => {
  const ours = new Map(overridden.map((oid) => [oid, pg.types.getTypeParser(oid, "text")]))
  const emmettParsers = new Map<number, (value: string) => unknown>()
  const types = {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      emmettParsers.get(oid) ?? pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser
  }
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types })
  pool.on("error", () => {})
  const restore = () => {
    for (const oid of overridden) {
      const current = pg.types.getTypeParser(oid, "text")
      if (current !== ours.get(oid)) {
        emmettParsers.set(oid, current)
        pg.types.setTypeParser(oid, ours.get(oid)!)
      }
    }
  }
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } })
  restore()
  await store.schema.migrate()
  restore()
  return {
    url,
    pool,
    store,
    close: async () => {
      await store.close()
      await pool.end()
    }
  }
}

/**
 * Whether the process-wide parsers are still `pg`'s own (int8 as text).
 *
 * @since 0.1.0
 */
export const parsersUntouched = (): boolean => typeof pg.types.getTypeParser(20, "text")("1") === "string"

/**
 * `n` writers appending through Emmett's store, each at the stream version its pass expects.
 *
 * @since 0.1.0
 */
export const writers = (emmett: Emmett, n: number): ReadonlyArray<Write> =>
  Array.from({ length: n }, (): Write => async (account, events, version) => {
    await emmett.store.appendToStream<MoneyDeposited>(
      account.streamName,
      events.map((e) => ({ type: ReadModel.eventType, data: e.data })),
      { expectedStreamVersion: BigInt(version) }
    )
  })

/**
 * Builds `table` from the start of Emmett's log with a fresh processor and waits until its
 * consumer stops (no messages left); returns the seconds from start to the last page's commit.
 *
 * @since 0.1.0
 */
export const catchUp = async (emmett: Emmett, table: string, batchSize: number): Promise<number> => {
  const start = performance.now()
  await emmett.pool.query(ReadModel.createTable(table))
  const upsert = ReadModel.upsertOne(table)
  const consumer = postgreSQLEventStoreConsumer<MoneyDeposited>({
    connectionString: emmett.url,
    stopWhen: { noMessagesLeft: true },
    pulling: { batchSize, pullingFrequencyInMs: 0 }
  })
  consumer.projector({
    processorId: `bench-${table}`,
    projection: postgreSQLProjection<MoneyDeposited>({
      name: table,
      canHandle: [ReadModel.eventType],
      handle: async (events, context) => {
        for (const e of events) await context.connection.client.query(upsert, [e.data.accountId, e.data.amount])
      }
    })
  })
  try {
    await consumer.start()
    return (performance.now() - start) / 1000
  } finally {
    await consumer.close()
  }
}
