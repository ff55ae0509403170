/**
 * A projection handler's statements with parameters are prepared on the projector's connection
 * when the pool prepares Recount's statements (`RECOUNT_PG_NAMED_STATEMENTS`, on by default), and
 * not when it is off. The handler looks at its own session's prepared statements, inside its batch.
 */
import { expect, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Projection from "../src/Projection.js"
import { layerLocal } from "../src/Projections.js"
import { caughtUp, fresh } from "./support/balances.js"

/** Whether the handler's upsert was among its session's prepared statements, once per deposit. */
const sawPrepared: Array<boolean> = []

const deposits = Projection.make({
  name: "deposits",
  events: BankAccount.events,
  eventTypes: ["Deposited"],
  tables: ["deposits"],
  migrations: {
    "0001_create": (target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE TABLE ${target.table("deposits")} (event_id uuid PRIMARY KEY, amount double precision NOT NULL)`))
  },
  handle: (event, envelope, target) =>
    Effect.gen(function*() {
      if (event._tag !== "Deposited") return
      const sql = yield* SqlClient.SqlClient
      const insert = `INSERT INTO ${target.table("deposits")} (event_id, amount) VALUES ($1, $2)`
      yield* sql.unsafe(insert, [envelope.eventId, event.amount])
      const prepared = yield* sql.unsafe<{ statement: string }>("SELECT statement FROM pg_prepared_statements")
      sawPrepared.push(prepared.some((row) => row.statement === insert))
    })
})

const withPool = (namedStatements: boolean) =>
  layerLocal([deposits], { pollInterval: "100 millis" }).pipe(Layer.provideMerge(TestDatabase.layerStores({ namedStatements })))

const depositsSeen = (namedStatements: boolean) =>
  Effect.gen(function*() {
    sawPrepared.length = 0
    const store = yield* EventStore
    yield* store.append(`account-${fresh("s")}`, [1, 2, 3].map((amount) => ({ type: "Deposited", data: { amount } })))
    yield* caughtUp("deposits")
    expect(sawPrepared).toEqual([namedStatements, namedStatements, namedStatements])
  })

layer(withPool(true), { excludeTestServices: true, timeout: 120_000 })("a projection's statements, named statements on", (it) => {
  it.effect("a handler's statement with parameters is prepared on its connection", () => depositsSeen(true))
})

layer(withPool(false), { excludeTestServices: true, timeout: 120_000 })("a projection's statements, named statements off", (it) => {
  it.effect("a handler's statement runs unprepared", () => depositsSeen(false))
})
