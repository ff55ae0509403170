import { expect, layer } from "@effect/vitest"
import { BankAccount, Deposit, InsufficientFunds, Open, Withdraw } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import { RecountClient } from "../src/RecountClient.js"
import { EventStore } from "@recount/core/EventStore"
import { createKey, layerNode, Slow, Touch, withClient } from "./support/server.js"
import { fresh } from "@recount/testing/TestIds"


layer(layerNode(), { excludeTestServices: true, timeout: 120_000 })("the RPC API", (it) => {
  for (const transport of ["websocket", "http"] as const) {
    for (const serialization of ["json", "msgpack"] as const) {
      it.scoped(`dispatches, reads state and gets typed domain errors (${transport}, ${serialization})`, () =>
        Effect.gen(function*() {
          const key = yield* createKey("acme", "write")
          yield* withClient(Effect.gen(function*() {
            const client = yield* RecountClient
            const id = fresh("a")
            const opened = yield* client.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
            expect(opened).toMatchObject({ aggregate: "account", aggregateId: id, streamVersion: 1 })
            yield* client.dispatch(BankAccount, id, new Deposit({ amount: 30 }), { commandId: `d-${id}` })
            const again = yield* client.dispatch(BankAccount, id, new Deposit({ amount: 30 }), { commandId: `d-${id}` })
            expect(again.alreadyApplied).toBe(true)
            const refused = yield* Effect.flip(client.dispatch(BankAccount, id, new Withdraw({ amount: 99 })))
            expect(refused).toEqual(new InsufficientFunds({ balance: 30, requested: 99 }))
            expect(yield* client.getState(BankAccount, id)).toEqual({ version: 2, state: { status: "open", owner: "Ada", balance: 30 } })
            expect(yield* client.getState(BankAccount, id, { version: 1 })).toEqual({ version: 1, state: { status: "open", owner: "Ada", balance: 0 } })
            const page = yield* client.readStream(`account-${id}`)
            expect(page.events.map((e) => [e.type, e.streamVersion, e.tenant])).toEqual([["Opened", 1, "acme"], ["Deposited", 2, "acme"]])
          }), { apiKey: key.key, transport, serialization })
        }))
    }
  }

  for (const awake of [false, true]) {
    it.scoped(`a client that disconnects mid-command does not interrupt it; a retry with its id gets the result (instance ${awake ? "awake: handed over directly" : "asleep: woken through the cluster"})`, () =>
      Effect.gen(function*() {
        const key = yield* createKey("acme", "write")
        const id = fresh("gone")
        const store = yield* EventStore
        if (awake) {
          yield* withClient(Effect.flatMap(RecountClient, (c) => c.dispatch(Slow, id, new Touch({ millis: 0 }))), { apiKey: key.key })
        }
        const before = awake ? 1 : 0
        // The client gives up (its connection closes) while the aggregate is still deciding.
        const gaveUp = yield* withClient(
          Effect.flatMap(RecountClient, (c) => c.dispatch(Slow, id, new Touch({ millis: 600 }), { commandId: `touch-${id}` })).pipe(
            Effect.timeout("150 millis"),
            Effect.exit
          ),
          { apiKey: key.key, transport: "websocket" }
        )
        expect(gaveUp._tag).toBe("Failure")
        expect(yield* store.streamVersion(`slow-${id}`, { tenant: "acme" })).toBe(before)
        yield* Effect.sleep("1 second")
        expect(yield* store.streamVersion(`slow-${id}`, { tenant: "acme" })).toBe(before + 1)
        const retried = yield* withClient(
          Effect.flatMap(RecountClient, (c) => c.dispatch(Slow, id, new Touch({ millis: 600 }), { commandId: `touch-${id}` })),
          { apiKey: key.key }
        )
        expect(retried).toMatchObject({ streamVersion: before + 1, alreadyApplied: true })
      }))
  }
})
