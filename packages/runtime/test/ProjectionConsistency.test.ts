import { expect, layer } from "@effect/vitest"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount, Deposit, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { CommandBus } from "../src/CommandBus.js"
import { Projections } from "../src/Projections.js"
import * as RecountNode from "../src/RecountNode.js"
import { caughtUp, eventually, foldBalances, fresh, makeBalances, readLog, readRows } from "./support/balances.js"

// The projection runs as a cluster singleton on the single node, as in production.
const Live = RecountNode.layerSingle({ aggregates: [BankAccount], projections: [makeBalances()] }).pipe(
  Layer.provideMerge(TestDatabase.layerStores())
)

const balanceOf = (account: string) => Effect.map(readRows(), (rows) => rows.find((r) => r.account === account)?.balance)

layer(Live, { excludeTestServices: true, timeout: 120_000 })("dispatch with projections", (it) => {
  it.effect("strong consistency: the dispatch returns only once the read model shows the change", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("c")
      const opened = yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }), { consistency: "strong" })
      expect(opened.projections).toMatchObject({ caughtUp: true, lagging: [] })
      expect(yield* balanceOf(id)).toBe(0)
      for (let i = 1; i <= 10; i++) {
        const result = yield* bus.dispatch(BankAccount, id, new Deposit({ amount: i }), { consistency: { projections: ["balances"] } })
        expect(result.projections?.caughtUp).toBe(true)
        expect(yield* balanceOf(id)).toBe((i * (i + 1)) / 2)
      }
      // Eventual (the default) says nothing about projections.
      const eventual = yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 1 }))
      expect(eventual.projections).toBeUndefined()
    }))

  it.effect("when projections do not catch up in time, the result says the events are committed and which projections lag", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const projections = yield* Projections
      const id = fresh("t")
      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Bo" }), { consistency: "strong" })
      yield* projections.pause("balances")
      yield* eventually(projections.status(["balances"]), ([s]) => s!.state === "paused")
      const result = yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 5 }), { consistency: { timeout: "300 millis" } })
      expect(result).toMatchObject({ streamVersion: 2, alreadyApplied: false })
      expect(result.projections).toMatchObject({ caughtUp: false, lagging: ["balances"] })
      expect(result.projections!.waitedMillis).toBeGreaterThanOrEqual(290)
      expect(yield* balanceOf(id)).toBe(0)
      yield* projections.resume("balances")
      const retried = yield* bus.dispatch(BankAccount, id, new Deposit({ amount: 5 }), { commandId: result.commandId, consistency: "strong" })
      expect(retried).toMatchObject({ alreadyApplied: true, projections: { caughtUp: true } })
      expect(yield* balanceOf(id)).toBe(5)
    }))

  it.effect("an unknown projection name is refused before the command runs", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("u")
      const error = yield* Effect.flip(bus.dispatch(BankAccount, id, new Open({ owner: "Cy" }), { consistency: { projections: ["balance"] } }))
      expect(error).toMatchObject({ _tag: "UnknownProjection", projection: "balance", known: ["balances"] })
      expect((yield* bus.getState(BankAccount, id)).version).toBe(0)
    }))

  it.effect("a rebuild while commands keep arriving swaps in a complete read model", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const projections = yield* Projections
      const accounts = Array.from({ length: 20 }, () => fresh("r"))
      yield* Effect.forEach(accounts, (id) => bus.dispatch(BankAccount, id, new Open({ owner: id })), { concurrency: 5 })
      let sent = 0
      const writer = yield* Effect.fork(Effect.forever(
        Effect.suspend(() => bus.dispatch(BankAccount, accounts[sent++ % accounts.length]!, new Deposit({ amount: 1 }))).pipe(
          Effect.zipRight(Effect.sleep("5 millis"))
        )
      ))
      yield* Effect.sleep("300 millis")
      const [before] = yield* projections.status(["balances"])
      const version = yield* projections.rebuild("balances")
      expect(version).toBe(before!.version + 1)
      yield* eventually(projections.status(["balances"]), ([s]) => s!.version === version && s!.rebuild === null)
      yield* Effect.sleep("300 millis")
      yield* Fiber.interrupt(writer)
      expect(sent).toBeGreaterThan(20)
      yield* caughtUp()
      expect(yield* readRows()).toEqual(foldBalances(yield* readLog))
    }))
})
