import { expect, layer } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Projection from "../src/Projection.js"
import { layerLocal, Projections } from "../src/Projections.js"
import { caughtUp, eventually, foldBalances, fresh, idOf, readLog, readRows } from "./support/balances.js"

/** Handlers fail on a deposit of 13 while `broken` is set, like a bug fixed by a later deploy. */
const broken = { value: true }
const attempts = new Map<string, number>()

const balancesThatChokeOn13 = (name: string, table: string, strict: boolean) =>
  Projection.make({
    name,
    events: BankAccount.events,
    tables: [table],
    maxAttempts: 3,
    backoff: "10 millis",
    strict,
    migrations: {
      "0001_create": (target) =>
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql.unsafe(`CREATE TABLE ${target.table(table)} (account text PRIMARY KEY, owner text, balance double precision NOT NULL DEFAULT 0, events integer NOT NULL DEFAULT 0)`))
    },
    handle: (event, envelope, target) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const t = target.table(table)
        const account = idOf(envelope)
        switch (event._tag) {
          case "Opened":
            yield* sql.unsafe(`INSERT INTO ${t} (account, owner, events) VALUES ($1, $2, 1)`, [account, event.owner])
            return
          case "Deposited":
            if (event.amount === 13 && broken.value) {
              attempts.set(`${name}/${envelope.eventId}`, (attempts.get(`${name}/${envelope.eventId}`) ?? 0) + 1)
              return yield* Effect.fail(new Error("cannot handle 13"))
            }
            yield* sql.unsafe(`UPDATE ${t} SET balance = balance + $2, events = events + 1 WHERE account = $1`, [account, event.amount])
            return
          case "Withdrawn":
            yield* sql.unsafe(`UPDATE ${t} SET balance = balance - $2, events = events + 1 WHERE account = $1`, [account, event.amount])
            return
          case "AccountClosed":
            yield* sql.unsafe(`DELETE FROM ${t} WHERE account = $1`, [account])
            return
        }
      })
  })

/**
 * Deposits into a ledger whose table refuses an amount of 666: the database fails the write, not
 * the handler, and the write is pipelined (it answers before the database has seen it).
 */
const ledger = Projection.make({
  name: "ledger",
  events: BankAccount.events,
  eventTypes: ["Deposited"],
  tables: ["ledger"],
  maxAttempts: 2,
  backoff: "10 millis",
  migrations: {
    "0001_create": (target) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql.unsafe(`CREATE TABLE ${target.table("ledger")} (event_id uuid PRIMARY KEY, account text NOT NULL, amount double precision NOT NULL CHECK (amount <> 666))`))
  },
  handle: (event, envelope, target) =>
    event._tag !== "Deposited" ? Effect.void : Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql.unsafe(`INSERT INTO ${target.table("ledger")} (event_id, account, amount) VALUES ($1, $2, $3)`, [envelope.eventId, idOf(envelope), event.amount]))
})

const Live = layerLocal([balancesThatChokeOn13("lenient", "lenient", false), balancesThatChokeOn13("strict", "strict", true), ledger], {
  leaseTimeout: "2 seconds",
  pollInterval: "100 millis"
}).pipe(Layer.provideMerge(TestDatabase.layerStores()))

const deposit = (account: string, amount: number) =>
  Effect.flatMap(EventStore, (store) => store.append(`account-${account}`, [{ type: "Deposited", data: { amount } }]))

layer(Live, { excludeTestServices: true, timeout: 120_000 })("projection failures", (it) => {
  it.effect("a poison event is parked after N tries, the projection goes on, and a retry after the fix applies it", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const projections = yield* Projections
      const a = fresh("p")
      yield* store.append(`account-${a}`, [{ type: "Opened", data: { owner: "Ada" } }, { type: "Deposited", data: { amount: 10 } }])
      const poison = yield* deposit(a, 13)
      yield* deposit(a, 20)
      yield* caughtUp("lenient")

      const [parked] = yield* projections.deadLetters.list({ projection: "lenient" })
      expect(parked).toMatchObject({ projection: "lenient", streamName: `account-${a}`, streamVersion: poison.streamVersion, eventType: "Deposited", attempts: 3, status: "parked" })
      expect(parked!.error).toContain("cannot handle 13")
      // Three tries of the event on its own, after the batch that held it failed once.
      expect(attempts.get(`lenient/${parked!.eventId}`)).toBeOneOf([3, 4])
      const [status] = yield* projections.status(["lenient"])
      expect(status).toMatchObject({ state: "running", parkedEvents: 1 })
      expect(status!.lastError).toContain(parked!.eventId)
      // The events after the poison one are applied; the poison one is not.
      const skipped = new Set([parked!.eventId])
      expect(yield* readRows("lenient")).toEqual(foldBalances(yield* readLog, skipped))

      broken.value = false
      yield* projections.deadLetters.retry("lenient", parked!.eventId)
      yield* eventually(projections.deadLetters.list({ projection: "lenient" }), ([d]) => d!.status === "applied")
      expect(yield* readRows("lenient")).toEqual(foldBalances(yield* readLog))
      const [after] = yield* projections.status(["lenient"])
      expect(after!.parkedEvents).toBe(0)
      // A retried or resolved dead letter cannot be retried again.
      expect(yield* Effect.flip(projections.deadLetters.retry("lenient", parked!.eventId))).toMatchObject({ _tag: "DeadLetterNotFound" })
    }).pipe(Effect.ensuring(Effect.sync(() => broken.value = true))))

  it.effect("a write the database refuses parks its event with the database's error; the writes around it are applied", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const projections = yield* Projections
      const sql = yield* PgClient.PgClient
      const a = fresh("w")
      // One append, so that the refused write sits inside one batch, with writes sent after it.
      const amounts = [1, 2, 666, 3, 4]
      yield* store.append(`account-${a}`, [{ type: "Opened", data: { owner: "Bo" } }, ...amounts.map((amount) => ({ type: "Deposited", data: { amount } }))])
      yield* caughtUp("ledger")
      const parked = yield* projections.deadLetters.list({ projection: "ledger" })
      expect(parked.map((d) => [d.streamName, d.streamVersion, d.attempts])).toEqual([[`account-${a}`, 4, 2]])
      // The database's own reason, not the "transaction is aborted" of the statements after it.
      expect(parked[0]!.error).toContain("violates check constraint")
      const rows = yield* sql<{ amount: number }>`SELECT amount FROM ledger WHERE account = ${a} ORDER BY amount`
      expect(rows.map((r) => r.amount)).toEqual([1, 2, 3, 4])
    }))

  it.effect("a parked event can be skipped for good", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const projections = yield* Projections
      const a = fresh("s")
      yield* store.append(`account-${a}`, [{ type: "Opened", data: { owner: "Bo" } }])
      const poison = yield* deposit(a, 13)
      yield* caughtUp("lenient")
      const parked = (yield* projections.deadLetters.list({ projection: "lenient", status: "parked" })).find((d) => d.streamName === `account-${a}`)
      expect(parked?.streamVersion).toBe(poison.streamVersion)
      yield* projections.deadLetters.skip("lenient", parked!.eventId)
      const [skipped] = yield* projections.deadLetters.list({ projection: "lenient", status: "skipped" })
      expect(skipped!.eventId).toBe(parked!.eventId)
      expect(skipped!.resolvedAt).not.toBeNull()
      expect((yield* readRows("lenient")).find((r) => r.account === a)).toMatchObject({ balance: 0, events: 1 })
    }))

  it.effect("a strict projection stops on a poison event, and resumes from it after the fix", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const projections = yield* Projections
      const a = fresh("x")
      yield* store.append(`account-${a}`, [{ type: "Opened", data: { owner: "Cy" } }])
      yield* deposit(a, 13)
      yield* deposit(a, 1)
      const [failed] = yield* eventually(projections.status(["strict"]), ([s]) => s!.state === "failed")
      expect(failed!.lastError).toContain("cannot handle 13")
      expect(failed!.lagEvents).toBeGreaterThanOrEqual(2)
      expect(yield* projections.deadLetters.list({ projection: "strict" })).toEqual([])

      broken.value = false
      yield* projections.resume("strict")
      yield* caughtUp("strict")
      expect(yield* readRows("strict")).toEqual(foldBalances(yield* readLog))
    }).pipe(Effect.ensuring(Effect.sync(() => broken.value = true))))

  it.effect("a failed rebuild leaves the serving read model untouched", () =>
    Effect.gen(function*() {
      const projections = yield* Projections
      const sql = yield* PgClient.PgClient
      yield* caughtUp("strict")
      const before = yield* readRows("strict")
      expect(before.length).toBeGreaterThan(0)
      // The log holds deposits of 13 that a strict handler refuses again: the rebuild must fail.
      expect(yield* projections.rebuild("strict")).toBe(2)
      const [after] = yield* eventually(projections.status(["strict"]), ([s]) => s!.rebuild === null)
      expect(after).toMatchObject({ version: 1, state: "running" })
      expect(after!.lastError).toContain("rebuild to version 2 failed")
      expect(yield* readRows("strict")).toEqual(before)
      const tables = yield* sql.unsafe<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'strict_v%'")
      expect(tables.map((t) => t.table_name)).toEqual(["strict_v1"])
    }))
})
