// A workflow for the failover test: a command, a slow step (that says where it runs), a command.
import * as EventRegistry from "@recount/core/EventRegistry"
import { BankAccount, Deposit } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as EventWorkflow from "../../src/EventWorkflow.js"

export class JobRequested extends Schema.TaggedClass<JobRequested>()("JobRequested", { accountId: Schema.String }) {}
export const JobEvents = EventRegistry.make([JobRequested])

export const SlowJob = EventWorkflow.make({ name: "SlowJob", payload: { accountId: Schema.String } })

export const layer = SlowJob.toLayer((p) =>
  Effect.gen(function*() {
    yield* EventWorkflow.dispatch(BankAccount, p.accountId, new Deposit({ amount: 1 }), { step: "first" }).pipe(Effect.orDie)
    yield* EventWorkflow.step("slow", Schema.Boolean, Effect.gen(function*() {
      yield* Effect.sync(() => console.log(`slow-started ${process.env.RUNNER_NAME ?? "?"}`))
      yield* Effect.sleep("3 seconds")
      return true
    }))
    yield* EventWorkflow.dispatch(BankAccount, p.accountId, new Deposit({ amount: 2 }), { step: "second" }).pipe(Effect.orDie)
  }))

export const trigger = EventWorkflow.trigger(SlowJob, {
  events: JobEvents,
  categories: ["wfjob"],
  payload: (event) => ({ accountId: event.accountId })
})
