import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Effect from "effect/Effect"
import { PgPool } from "../src/PgPool.js"

// One connection, so the statements prepared by the appends are visible to the check's session.
const prepared = Effect.flatMap(PgPool, (pool) =>
  Effect.promise(() => pool.query<{ name: string }>("SELECT name FROM pg_prepared_statements ORDER BY name"))).pipe(
    Effect.map((result) => result.rows.map((row) => row.name))
  )

const appends = Effect.gen(function*() {
  const store = yield* EventStore
  // An event id already stored is answered by a second statement; the pool replaces a connection
  // after a statement fails, so this comes first and the appends below share one connection.
  const eventId = "6f0c3c1e-8a0b-4f4e-9d55-3d1f8f3b2a10"
  const once = yield* store.append("named-2", [{ eventId, type: "Deposited", data: {} }])
  const again = yield* store.append("named-2", [{ eventId, type: "Deposited", data: {} }])
  expect(again).toEqual({ ...once, alreadyApplied: true })
  const first = yield* store.append("named-1", [{ type: "Deposited", data: { n: 1 } }], { expectedVersion: ExpectedVersion.noStream, commandId: "c-1" })
  const second = yield* store.append("named-1", [{ type: "Deposited", data: { n: 2 } }], { expectedVersion: ExpectedVersion.exact(1) })
  // The other outcomes of the same statement: a wrong version, a retried command.
  const wrong = yield* Effect.flip(store.append("named-1", [{ type: "Deposited", data: {} }], { expectedVersion: ExpectedVersion.exact(0) }))
  const retried = yield* store.append("named-1", [{ type: "Deposited", data: { n: 1 } }], { expectedVersion: ExpectedVersion.noStream, commandId: "c-1" })
  expect([first.streamVersion, second.streamVersion, wrong._tag, retried.alreadyApplied, retried.streamVersion]).toEqual([1, 2, "WrongExpectedVersion", true, 1])
})

layer(TestDatabase.layerStores({ maxConnections: 1 }), { excludeTestServices: true })("named statements (PostgreSQL)", (it) => {
  it.effect("by default the append is prepared once per connection, and every outcome of it still answers", () =>
    Effect.gen(function*() {
      yield* appends
      expect(yield* prepared).toEqual(["recount_append_v1"])
    }))
})

layer(TestDatabase.layerStores({ maxConnections: 1, namedStatements: false }), { excludeTestServices: true })("unnamed statements (PostgreSQL)", (it) => {
  it.effect("turned off (for a pooler that drops prepared statements), nothing is prepared", () =>
    Effect.gen(function*() {
      yield* appends
      expect(yield* prepared).toEqual([])
    }))
})
