/**
 * The store workloads on plain `pg`, with plain promises for concurrency.
 *
 * @since 0.1.0
 */
import * as EventStoreConfig from "@recount/core/EventStoreConfig"
import type pg from "pg"
import * as Events from "./Events.js"
import * as PlainPg from "./PlainPg.js"
import type { StoreSides } from "./Sides.js"

/** The page Recount's `readStream` asks for by default. */
const pageSize = EventStoreConfig.defaults.readPageSize

/** Appends until the deadline; returns the events whose append finished by then. */
const writer = async (pool: pg.Pool, batch: number, deadline: number): Promise<number> => {
  const { streamName, accountId } = Events.freshStream("b")
  let version = 0
  for (;;) {
    const appended = await PlainPg.append(pool, streamName, Events.deposits(accountId, version, batch), version)
    if (performance.now() > deadline) return version
    version = appended.streamVersion
  }
}

const sum = (ns: ReadonlyArray<number>): number => ns.reduce((a, b) => a + b, 0)

/**
 * @since 0.1.0
 */
export const make = (pool: pg.Pool): StoreSides => ({
  appends: (writers, batch) => ({
    run: async (deadline) => ({
      units: sum(await Promise.all(Array.from({ length: writers }, () => writer(pool, batch, deadline)))),
      until: deadline
    })
  }),

  readStream: (streamName, length) => ({
    run: async (deadline) => {
      let units = 0
      do {
        const seen = await PlainPg.foldStream(pool, streamName, pageSize, 0, Events.countInOrder)
        if (seen !== length) throw new Error(`baseline read ${seen} events of ${streamName}, expected ${length}`)
        units += seen
      } while (performance.now() < deadline)
      return { units, until: performance.now() }
    }
  }),

  readAll: (events, batchSize) => ({
    run: async (deadline) => {
      let units = 0
      do {
        let after: PlainPg.Checkpoint = { transactionId: 0n, position: 0n }
        let read = 0
        while (read < events) {
          const batch = await PlainPg.readAll(pool, after, Math.min(batchSize, events - read))
          if (batch.events.length === 0) throw new Error(`baseline found only ${read} events in the log`)
          read += batch.events.length
          after = batch.checkpoint
        }
        units += read
      } while (performance.now() < deadline)
      return { units, until: performance.now() }
    }
  })
})
