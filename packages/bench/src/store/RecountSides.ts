/**
 * The store workloads through Recount's public API, on one `ManagedRuntime` built once, so a
 * round measures the store and not runtime or pool start-up.
 *
 * @since 0.1.0
 */
import * as PgPool from "@recount/postgres/PgPool"
import type * as Migrator from "@effect/sql/Migrator"
import type { SqlError } from "@effect/sql/SqlError"
import * as Checkpoint from "@recount/core/Checkpoint"
import { EventStore, type EventStoreService } from "@recount/core/EventStore"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as Migrations from "@recount/postgres/Migrations"
import * as PgEventStore from "@recount/postgres/PgEventStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Events from "./Events.js"
import type { StoreSides } from "./Sides.js"

/** @since 0.1.0 */
export type StoreRuntime = ManagedRuntime.ManagedRuntime<EventStore | PgPool.PgPool, Migrator.MigrationError | SqlError>

/**
 * The store, migrated; Effect's logs go to stderr, keeping stdout for results.
 *
 * @since 0.1.0
 */
export const layer = (url: string, poolSize: number): Layer.Layer<EventStore | PgPool.PgPool, Migrator.MigrationError | SqlError> =>
  PgEventStore.layer.pipe(
    Layer.provide(Migrations.layer),
    Layer.provideMerge(PgPool.layer({ url: Redacted.make(url), maxConnections: poolSize })),
    Layer.merge(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
  )

/** Appends until the deadline; returns the events whose append finished by then. */
const writer = (store: EventStoreService, batch: number, deadline: number) =>
  Effect.gen(function*() {
    const { streamName, accountId } = Events.freshStream("r")
    let version = 0
    for (;;) {
      const appended = yield* store.append(streamName, Events.deposits(accountId, version, batch), {
        expectedVersion: ExpectedVersion.exact(version)
      })
      if (performance.now() > deadline) return version
      version = appended.streamVersion
    }
  })

const sum = (ns: ReadonlyArray<number>): number => ns.reduce((a, b) => a + b, 0)

/**
 * @since 0.1.0
 */
export const make = (runtime: StoreRuntime): StoreSides => ({
  appends: (writers, batch) => ({
    run: (deadline) =>
      runtime.runPromise(Effect.gen(function*() {
        const store = yield* EventStore
        const versions = yield* Effect.forEach(
          Array.from({ length: writers }),
          () => writer(store, batch, deadline),
          { concurrency: writers }
        )
        return { units: sum(versions), until: deadline }
      }))
  }),

  readStream: (streamName, length) => ({
    run: (deadline) =>
      runtime.runPromise(Effect.gen(function*() {
        const store = yield* EventStore
        let units = 0
        do {
          const seen = yield* Stream.runFold(store.readStream(streamName), 0, Events.countInOrder)
          if (seen !== length) return yield* Effect.dieMessage(`Recount read ${seen} events of ${streamName}, expected ${length}`)
          units += seen
        } while (performance.now() < deadline)
        return { units, until: performance.now() }
      }))
  }),

  readAll: (events, batchSize) => ({
    run: (deadline) =>
      runtime.runPromise(Effect.gen(function*() {
        const store = yield* EventStore
        let units = 0
        do {
          let after = Checkpoint.start
          let read = 0
          while (read < events) {
            const batch = yield* store.readAll({ after, batchSize: Math.min(batchSize, events - read) })
            if (batch.events.length === 0) return yield* Effect.dieMessage(`Recount found only ${read} events in the log`)
            read += batch.events.length
            after = batch.checkpoint
          }
          units += read
        } while (performance.now() < deadline)
        return { units, until: performance.now() }
      }))
  })
})
