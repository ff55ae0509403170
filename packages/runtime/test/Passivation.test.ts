import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount, Deposited, Open } from "@recount/testing/TestAggregates"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CommandBus } from "../src/CommandBus.js"
import * as RecountNode from "../src/RecountNode.js"
import * as RuntimeConfig from "../src/RuntimeConfig.js"

// The cluster's reaper does not honour idle timeouts under about 5 s.
const Idler = { ...BankAccount, name: "idler", idleTimeout: Duration.seconds(5) }

const Live = RecountNode.layerSingle({ aggregates: [Idler] }).pipe(
  Layer.provideMerge(TestDatabase.layerStores()),
  Layer.provide(RuntimeConfig.layer({ maxResidentAggregates: 2 }))
)

layer(Live, { excludeTestServices: true, timeout: 60_000 })("passivation", (it) => {
  it.effect("an idle instance leaves memory and is rebuilt from the store on the next command", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const store = yield* EventStore
      yield* bus.dispatch(Idler, "p1", new Open({ owner: "Ada" }))
      // Written behind the live instance's back: only a rebuilt instance can know about it.
      yield* store.append("idler-p1", [yield* Idler.events.toEventData(new Deposited({ amount: 7 }))])
      expect(yield* bus.getState(Idler, "p1")).toEqual({ version: 1, state: { status: "open", owner: "Ada", balance: 0 } })
      yield* Effect.sleep("11 seconds")
      expect(yield* bus.getState(Idler, "p1")).toEqual({ version: 2, state: { status: "open", owner: "Ada", balance: 7 } })
    }), { timeout: 30_000 })

  it.effect("past the resident cap, the least recently used instance drops its state and reloads it", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const store = yield* EventStore
      for (const id of ["c1", "c2"]) yield* bus.dispatch(Idler, id, new Open({ owner: id }))
      // Behind both instances' backs.
      for (const id of ["c1", "c2"]) yield* store.append(`idler-${id}`, [yield* Idler.events.toEventData(new Deposited({ amount: 1 }))])
      yield* bus.dispatch(Idler, "c3", new Open({ owner: "c3" })) // the third resident: c1 is the oldest
      expect((yield* bus.getState(Idler, "c2")).version).toBe(1) // still in memory: it knows nothing of the deposit
      expect((yield* bus.getState(Idler, "c1")).version).toBe(2) // evicted, so reloaded from the store
    }))
})
