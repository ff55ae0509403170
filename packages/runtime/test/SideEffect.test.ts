import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ProjectorHooks } from "../src/internal/projector.js"
import { layerLocal, Projections } from "../src/Projections.js"
import * as SideEffect from "../src/SideEffect.js"
import { caughtUp, fresh } from "./support/balances.js"

/** What a mail server would have seen: one entry per call, with the key it was given. */
const sent: Array<{ readonly key: string; readonly owner: string }> = []
let failuresLeft = 2
let crashBeforeCommit = 1

const Welcome = SideEffect.make({
  name: "welcome-mail",
  events: BankAccount.events,
  eventTypes: ["Opened"],
  backoff: "10 millis",
  handle: (event, _envelope, delivery) =>
    Effect.suspend(() => {
      if (event._tag !== "Opened") return Effect.void
      if (event.owner === "flaky" && failuresLeft > 0) {
        failuresLeft--
        return Effect.fail(new Error("mail server busy"))
      }
      sent.push({ key: delivery.idempotencyKey, owner: event.owner })
      return Effect.void
    })
})

const Live = layerLocal([Welcome], { leaseTimeout: "2 seconds", pollInterval: "100 millis" }).pipe(
  Layer.provide(Layer.succeed(ProjectorHooks, {
    beforeCommit: (events) =>
      Effect.suspend(() => {
        if (events.some((e) => (e.data as { owner?: string }).owner === "crash") && crashBeforeCommit > 0) {
          crashBeforeCommit--
          return Effect.dieMessage("injected crash after the side effect, before the checkpoint")
        }
        return Effect.void
      })
  })),
  Layer.provideMerge(TestDatabase.layerStores())
)

layer(Live, { excludeTestServices: true, timeout: 60_000 })("side-effect handlers", (it) => {
  it.effect("get the event id as idempotency key, are retried on failure, and run again after a crash before the checkpoint", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      yield* Effect.forEach(["ada", "flaky", "crash", "bo"], (owner) =>
        store.append(`account-${fresh(owner)}`, [{ type: "Opened", data: { owner } }, { type: "Deposited", data: { amount: 1 } }]))
      yield* caughtUp("welcome-mail")
      const log = (yield* store.readAll({ eventTypes: ["Opened"], batchSize: 100 })).events
      const keyOf = (owner: string) => log.find((e) => (e.data as { owner: string }).owner === owner)!.eventId
      // "flaky" failed twice first; "crash" is sent again after the crash, with the same key, so the
      // mail server can drop the repeat.
      expect(sent).toEqual(["ada", "flaky", "crash", "crash", "bo"].map((owner) => ({ key: keyOf(owner), owner })))
      expect(failuresLeft).toBe(0)
      const projections = yield* Projections
      expect(yield* Effect.flip(projections.rebuild("welcome-mail"))).toMatchObject({ _tag: "RebuildNotSupported" })
    }))
})
