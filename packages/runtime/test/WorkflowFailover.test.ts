import { expect, it } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as EffectStream from "effect/Stream"
import { CommandBus } from "../src/CommandBus.js"
import * as RecountNode from "../src/RecountNode.js"
import * as RunnerProcess from "./support/RunnerProcess.js"
import { JobEvents, JobRequested } from "./support/slowJob.js"

it.live("a runner SIGKILLed in the middle of an activity: the workflow resumes on the other and every command applies once", () =>
  Effect.gen(function*() {
    const url = yield* TestDatabase.TestDatabaseUrl
    const script = yield* RunnerProcess.bundle
    const runners = [
      yield* RunnerProcess.start(script, { name: "runner-a", databaseUrl: url }),
      yield* RunnerProcess.start(script, { name: "runner-b", databaseUrl: url })
    ]
    const slowStarts: Array<string> = []
    for (const runner of runners) {
      runner.process.stdout!.on("data", (chunk) => {
        for (const match of String(chunk).matchAll(/slow-started (\S+)/g)) slowStarts.push(match[1]!)
      })
    }
    yield* Effect.gen(function*() {
      const bus = yield* CommandBus
      const store = yield* EventStore
      const id = "wf-account"
      yield* bus.dispatch(BankAccount, id, new Open({ owner: id }), { commandId: "wf-open", timeout: "20 seconds" }).pipe(
        Effect.retry({ while: (e) => e._tag === "CommandTimeout" || e._tag === "AggregateUnavailable", times: 10 })
      )
      yield* store.append("wfjob-1", [yield* JobEvents.toEventData(new JobRequested({ accountId: id }))])
      // Kill whichever runner is in the middle of the slow step.
      yield* Effect.repeat(Effect.sleep("50 millis"), { until: () => slowStarts.length > 0 }).pipe(Effect.timeout("60 seconds"))
      const victim = runners.find((r) => r.name === slowStarts[0])!
      yield* victim.kill("SIGKILL")
      const survivor = runners.find((r) => r !== victim)!
      const deposits = () =>
        Effect.map(EffectStream.runCollect(store.readStream(`account-${id}`)), (events) =>
          [...events].filter((e) => e.type === "Deposited").map((e) => (e.data as { amount: number }).amount))
      let seen: Array<number> = []
      const deadline = Date.now() + 90_000
      while (Date.now() < deadline) {
        seen = yield* deposits()
        if (seen.includes(2)) break
        yield* Effect.sleep("250 millis")
      }
      yield* Effect.sleep("2 seconds")
      expect(yield* deposits()).toEqual([1, 2])
      // The slow step ran again on the survivor (it had no recorded result); the commands did not.
      expect(slowStarts.slice(-1)).toEqual([survivor.name])
      expect(slowStarts.length).toBeGreaterThanOrEqual(2)
    }).pipe(Effect.provide(RecountNode.layerClient({ aggregates: [BankAccount] })))
    for (const runner of runners) if (runner.process.exitCode === null && runner.process.signalCode === null) yield* runner.kill("SIGTERM")
  }).pipe(Effect.provide(TestDatabase.layerStores()), Effect.scoped), { timeout: 240_000 })
