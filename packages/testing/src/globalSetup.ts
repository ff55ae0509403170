/**
 * A vitest `globalSetup` that starts one throwaway embedded PostgreSQL for the whole test run, or
 * uses `DATABASE_URL` when it is set, and hands its URL to every test file through `inject`.
 *
 * Add `globalSetup: ["@recount/testing/globalSetup"]` to your vitest config.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as EmbeddedPostgres from "@recount/postgres/EmbeddedPostgres"
import type { TestProject } from "vitest/node"
import "./internal/providedContext.js"

let scope: Scope.CloseableScope | undefined

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.DATABASE_URL
  if (external) {
    project.provide("recountDatabaseUrl", external)
    return
  }
  scope = Effect.runSync(Scope.make())
  const running = await Effect.runPromise(Scope.extend(EmbeddedPostgres.startEphemeral(), scope))
  project.provide("recountDatabaseUrl", Redacted.value(running.url))
}

export async function teardown(): Promise<void> {
  if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
}
