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
 * the first time a pool is made; `EmmettStore.make` gives Emmett's store a pool of
 * its own whose connections use Emmett's parsers, and the process-wide ones are put back. The
 * consumer makes its own pool (dumbo's, one per URL), which therefore parses as `pg` does by default;
 * Emmett converts positions and checkpoints with `BigInt` itself, so it works the same, and plain
 * `JSON.parse` is if anything cheaper than Emmett's reviver.
 *
 * @since 0.1.0
 */
import type { Event } from "@event-driven-io/emmett"
import { postgreSQLEventStoreConsumer, postgreSQLProjection } from "@event-driven-io/emmett-postgresql"
import type { Emmett } from "../EmmettStore.js"
import type { Deposit } from "../store/Events.js"
import type { Write } from "./Log.js"
import * as ReadModel from "./ReadModel.js"

type MoneyDeposited = Event<typeof ReadModel.eventType, {
  accountId: Deposit["accountId"]
  amount: Deposit["amount"]
  currency: Deposit["currency"]
  note: Deposit["note"]
}>

export { type Emmett, make, parsersUntouched } from "../EmmettStore.js"

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
