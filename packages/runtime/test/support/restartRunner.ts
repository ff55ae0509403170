// A runner process for the restart test (`DATABASE_URL`, `RUNNER_PORT`, `RUNNER_NAME`): bank
// accounts and a saga with a compensation. Prints "ready" once it has joined the cluster.
import { BankAccount } from "@recount/testing/TestAggregates"
import * as Workflows from "../../src/Workflows.js"
import * as CompensatedJob from "./compensatedJob.js"
import { launchRunner } from "./launchRunner.js"

launchRunner({
  aggregates: [BankAccount],
  workflows: [Workflows.register(CompensatedJob.CompensatedJob, CompensatedJob.layer)],
  triggers: [CompensatedJob.trigger]
})
