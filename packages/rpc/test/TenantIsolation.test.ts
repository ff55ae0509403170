import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import { BankAccount, Deposit, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { RecountClient } from "../src/RecountClient.js"
import * as RecountServer from "../src/RecountServer.js"
import { createKey, layerNode, withClient } from "./support/server.js"

const tenants = ["north", "south", "east"] as const
const seed = Date.now()

/** One attempt by a key of `actor` to reach what `victim` stored under `id`. */
const Attempt = FastCheck.record({
  actor: FastCheck.constantFrom(...tenants),
  victimOffset: FastCheck.integer({ min: 1, max: tenants.length - 1 }),
  id: FastCheck.stringMatching(/^[A-Za-z0-9_-]{1,24}$/),
  op: FastCheck.constantFrom("dispatch", "state", "stateAt", "stream", "sameIdState", "sameIdStream", "httpState", "httpDispatch")
})

layer(layerNode(), { excludeTestServices: true, timeout: 180_000 })("tenant isolation", (it) => {
  it.scoped(`no key of one tenant reads or writes another's streams, states or subscriptions (property, seed ${seed})`, () =>
    Effect.gen(function*() {
      const keys = Object.fromEntries(yield* Effect.forEach(tenants, (t) => Effect.map(createKey(t, "write"), (k) => [t, k.key] as const)))
      const url = yield* RecountServer.url
      const store = yield* EventStore
      const attempts = FastCheck.sample(Attempt, { numRuns: 40, seed })

      // Each tenant follows its own log for the whole test.
      const received: Record<string, Array<{ readonly tenant: string; readonly eventId: string }>> = {}
      const followers = yield* Effect.forEach(tenants, (t) => {
        const mine: Array<{ readonly tenant: string; readonly eventId: string }> = (received[t] = [])
        return withClient(
          Effect.flatMap(RecountClient, (c) => Stream.runForEach(c.subscribe(), (e) => Effect.sync(() => mine.push(e)))),
          { apiKey: keys[t]! }
        ).pipe(Effect.fork)
      })

      for (const [i, a] of attempts.entries()) {
        const victim = tenants[(tenants.indexOf(a.actor) + a.victimOffset) % tenants.length]!
        const id = `${a.id}-${i}`
        const label = `attempt ${i} (${a.op}, ${a.actor} -> ${victim}, id ${id})`
        // The victim has an account under that id.
        yield* withClient(Effect.gen(function*() {
          const c = yield* RecountClient
          yield* c.dispatch(BankAccount, id, new Open({ owner: `owner in ${victim}` }))
          yield* c.dispatch(BankAccount, id, new Deposit({ amount: 100 }))
        }), { apiKey: keys[victim]!, transport: "http" })

        const outcome = yield* withClient(Effect.gen(function*() {
          const c = yield* RecountClient
          switch (a.op) {
            case "dispatch":
              return yield* Effect.either(c.dispatch(BankAccount, id, new Deposit({ amount: 1 }), { tenant: victim }))
            case "state":
              return yield* Effect.either(c.getState(BankAccount, id, { tenant: victim }))
            case "stateAt":
              return yield* Effect.either(c.getState(BankAccount, id, { tenant: victim, version: 1 }))
            case "stream":
              return yield* Effect.either(c.readStream(`account-${id}`, { tenant: victim }))
            case "sameIdState":
              return yield* Effect.either(c.getState(BankAccount, id))
            case "sameIdStream":
              return yield* Effect.either(c.readStream(`account-${id}`))
            case "httpState":
            case "httpDispatch": {
              const response = yield* Effect.promise(() =>
                fetch(`${url}/v1/${victim}/aggregates/account/${encodeURIComponent(id)}/${a.op === "httpState" ? "state" : "commands"}`, {
                  method: a.op === "httpState" ? "GET" : "POST",
                  headers: { authorization: `Bearer ${keys[a.actor]!}`, "content-type": "application/json" },
                  ...(a.op === "httpDispatch" ? { body: JSON.stringify({ _tag: "Deposit", amount: 1 }) } : {})
                }))
              return { _tag: "Http" as const, status: response.status, body: yield* Effect.promise(() => response.json()) }
            }
          }
        }), { apiKey: keys[a.actor]!, transport: i % 2 === 0 ? "websocket" : "http" })

        if (a.op === "sameIdState") {
          // The actor's own aggregate of that id: nothing of the victim's shows.
          expect(outcome, label).toMatchObject({ _tag: "Right", right: { version: 0 } })
        } else if (a.op === "sameIdStream") {
          expect(outcome, label).toMatchObject({ _tag: "Right", right: { events: [] } })
        } else if (a.op === "httpState" || a.op === "httpDispatch") {
          expect(outcome, label).toMatchObject({ status: 403, body: { _tag: "Forbidden" } })
        } else {
          expect(outcome, label).toMatchObject({ _tag: "Left", left: { _tag: "Forbidden" } })
        }
        // Whatever was attempted, the victim's stream is as the victim left it.
        expect(yield* store.streamVersion(`account-${id}`, { tenant: victim }), label).toBe(2)
      }

      // Each follower received exactly its own tenant's log: nothing of another tenant's.
      for (const t of tenants) {
        const log = (yield* store.readAll({ tenant: t, batchSize: 10_000 })).events.map((e) => e.eventId)
        const deadline = Date.now() + 10_000
        while (received[t]!.length < log.length && Date.now() < deadline) yield* Effect.sleep("50 millis")
        expect(received[t]!.every((e) => e.tenant === t)).toBe(true)
        expect(received[t]!.map((e) => e.eventId)).toEqual(log)
      }
      yield* Effect.forEach(followers, Fiber.interrupt, { discard: true })
    }))
})
