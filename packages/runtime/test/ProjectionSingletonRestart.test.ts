import { expect, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount, Deposit, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CommandBus } from "../src/CommandBus.js"
import * as Projection from "../src/Projection.js"
import * as RecountNode from "../src/RecountNode.js"
import { caughtUp, fresh, idOf, readRows } from "./support/balances.js"

/**
 * The first deposit's handler ends with an interruption that is not the projector's own, as a call
 * whose reply carries the other side's interruption does. The projector takes that for being
 * stopped and ends; the cluster would never start the singleton again.
 */
const interruptOnce = { value: true }

const balances = Projection.make({
  name: "restarting-balances",
  events: BankAccount.events,
  tables: ["restarting_balances"],
  migrations: {
    "0001_create": (target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql.unsafe(`CREATE TABLE ${target.table("restarting_balances")} (account text PRIMARY KEY, owner text, balance double precision NOT NULL DEFAULT 0, events integer NOT NULL DEFAULT 0)`))
  },
  handle: (event, envelope, target) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const t = target.table("restarting_balances")
      const account = idOf(envelope)
      switch (event._tag) {
        case "Opened":
          yield* sql.unsafe(`INSERT INTO ${t} (account, owner, events) VALUES ($1, $2, 1)`, [account, event.owner])
          return
        case "Deposited":
          if (interruptOnce.value) {
            interruptOnce.value = false
            return yield* Effect.interrupt
          }
          yield* sql.unsafe(`UPDATE ${t} SET balance = balance + $2, events = events + 1 WHERE account = $1`, [account, event.amount])
          return
        default:
          return
      }
    })
})

// The projection runs as a cluster singleton on the single node, as in production.
const Live = RecountNode.layerSingle({ aggregates: [BankAccount], projections: [balances] }).pipe(
  Layer.provideMerge(TestDatabase.layerStores())
)

layer(Live, { excludeTestServices: true, timeout: 120_000 })("a projection singleton", (it) => {
  it.effect("that ended by itself (an interruption from elsewhere) starts again and catches up", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("r")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 5 }))
      yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 7 }))
      const [status] = yield* caughtUp("restarting-balances")
      expect(interruptOnce.value).toBe(false)
      expect(status?.state).toBe("running")
      expect((yield* readRows("restarting_balances")).find((r) => r.account === id)).toMatchObject({ balance: 12, events: 3 })
    }))
})
