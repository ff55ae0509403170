// A saga for the restart test: a command with a compensation (it undoes the command if the saga
// fails, which it never does here), a slow step, a command.
import { BankAccount, Deposit, Withdraw } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as EventWorkflow from "../../src/EventWorkflow.js"
import { JobEvents } from "./slowJob.js"

export const CompensatedJob = EventWorkflow.make({ name: "CompensatedJob", payload: { accountId: Schema.String } })

export const layer = CompensatedJob.toLayer((p) =>
  Effect.gen(function*() {
    yield* EventWorkflow.dispatch(BankAccount, p.accountId, new Deposit({ amount: 1 }), { step: "first" }).pipe(
      Effect.orDie,
      CompensatedJob.withCompensation(() =>
        EventWorkflow.dispatch(BankAccount, p.accountId, new Withdraw({ amount: 1 }), { step: "undo-first" }).pipe(Effect.orDie, Effect.asVoid))
    )
    yield* EventWorkflow.step("slow", Schema.Boolean, Effect.as(Effect.sleep("3 seconds"), true))
    yield* EventWorkflow.dispatch(BankAccount, p.accountId, new Deposit({ amount: 2 }), { step: "second" }).pipe(Effect.orDie)
  }))

/** `JobRequested` in a stream of category `cjob` starts one. */
export const trigger = EventWorkflow.trigger(CompensatedJob, {
  events: JobEvents,
  categories: ["cjob"],
  payload: (event) => ({ accountId: event.accountId })
})
