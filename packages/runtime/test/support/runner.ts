// A runner process for the multi-process tests: `DATABASE_URL`, `RUNNER_PORT`, `RUNNER_NAME`.
// Prints "ready" once it has joined the cluster.
import { BankAccount, Order } from "@recount/testing/TestAggregates"
import * as Workflows from "../../src/Workflows.js"
import { launchRunner } from "./launchRunner.js"
import * as SlowJob from "./slowJob.js"

launchRunner({
  aggregates: [BankAccount, Order],
  workflows: [Workflows.register(SlowJob.SlowJob, SlowJob.layer)],
  triggers: [SlowJob.trigger]
})
