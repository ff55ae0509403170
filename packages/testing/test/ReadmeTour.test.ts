// The README's five-minute tour, run against a fresh test database so the docs stay true.
import { expect, layer } from "@effect/vitest"
import { EventRegistry, EventStore, ExpectedVersion } from "@recount/core"
import { Effect, Schema, Stream } from "effect"
import * as TestDatabase from "../src/TestDatabase.js"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
const AccountEvents = EventRegistry.make([Deposited, Withdrawn])

layer(TestDatabase.layerStores(), { excludeTestServices: true })("README tour", (it) => {
  it.effect("runs as written", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const deposit = yield* AccountEvents.toEventData(new Deposited({ amount: 100 }))
      const result = yield* store.append("account-42", [deposit], {
        expectedVersion: ExpectedVersion.noStream,
        commandId: "cmd-1"
      })
      expect(result).toEqual({ streamVersion: 1, firstVersion: 1, globalPosition: 1n, alreadyApplied: false })
      const decoded = yield* store.readStream("account-42").pipe(Stream.mapEffect(AccountEvents.decode), Stream.runCollect)
      expect([...decoded]).toEqual([new Deposited({ amount: 100 })])
      const followed = yield* store.subscribe({ categories: ["account"] }).pipe(Stream.take(1), Stream.runCollect)
      expect([...followed].map((e) => `${e.streamName}@${e.streamVersion}`)).toEqual(["account-42@1"])
    }))
})
