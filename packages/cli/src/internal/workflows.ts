import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type { WorkflowExecution } from "@recount/core/WorkflowStatus"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Connection from "./connection.js"
import * as Output from "./output.js"

const triggeredBy = (x: WorkflowExecution) =>
  x.triggeringEvent ? `${x.triggeringEvent.type} ${x.triggeringEvent.streamName}@${x.triggeringEvent.streamVersion}` : x.triggeringEventId ?? ""

const rows = (executions: ReadonlyArray<WorkflowExecution>) =>
  Output.table(
    ["workflow", "execution", "state", "attempt", "triggering event", "started at", "updated at", "error"],
    executions.map((x) => [
      x.workflow,
      x.executionId,
      x.state,
      String(x.attempt),
      triggeredBy(x),
      x.startedAt.toISOString(),
      x.updatedAt?.toISOString() ?? "",
      Output.cell(x.error, 50)
    ])
  )

const list = Command.make("list", {
  ...Connection.options,
  workflow: Options.text("workflow").pipe(Options.withDescription("Only this workflow's executions"), Options.optional),
  state: Options.choice("state", ["running", "suspended", "completed", "failed"]).pipe(Options.withDescription("Only executions in this state"), Options.optional),
  limit: Options.integer("limit").pipe(Options.withDescription("At most this many, newest first (default 100)"), Options.optional)
}, (o) =>
  Effect.gen(function*() {
    const found = yield* Connection.withRpc(o, (rpc) =>
      rpc.ListWorkflows({ workflow: Option.getOrUndefined(o.workflow), state: Option.getOrUndefined(o.state), limit: Option.getOrUndefined(o.limit) }))
    // With nothing listed, the names tell the operator what there is to ask for.
    yield* Output.print(o.json, found, (f) =>
      f.executions.length > 0 ? rows(f.executions) : `${rows(f.executions)}\nworkflows on the node: ${f.workflows.join(", ") || "none"}`)
  })).pipe(Command.withDescription("Workflow executions, newest first, with their state and triggering event"))

const target = {
  ...Connection.options,
  workflow: Args.text({ name: "workflow" }).pipe(Args.withDescription("The workflow's name")),
  executionId: Args.text({ name: "execution-id" })
}

const retry = Command.make("retry", target, (o) =>
  Effect.flatMap(
    Connection.withRpc(o, (rpc) => rpc.RetryWorkflow({ workflow: o.workflow, executionId: o.executionId })),
    (next) => Output.print(o.json, next, (x) => `${o.workflow} retries ${o.executionId} as attempt ${x.attempt}: execution ${x.executionId} (${x.state})`)
  )).pipe(Command.withDescription("Start the next attempt of a failed execution"))

const cancel = Command.make("cancel", target, (o) =>
  Effect.flatMap(
    Connection.withRpc(o, (rpc) => rpc.CancelWorkflow({ workflow: o.workflow, executionId: o.executionId })),
    (x) => Output.print(o.json, x, () => `${o.workflow} cancels ${o.executionId}; its compensations run`)
  )).pipe(Command.withDescription("Interrupt a running or suspended execution; its compensations run"))

/** `recount workflows list|retry|cancel`. */
export const command = Command.make("workflows").pipe(
  Command.withDescription("Workflow executions (bootstrap key)"),
  Command.withSubcommands([list, retry, cancel])
)
