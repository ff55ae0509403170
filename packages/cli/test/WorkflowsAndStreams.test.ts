import { expect, layer } from "@effect/vitest"
import * as DurableClock from "@effect/workflow/DurableClock"
import * as EventRegistry from "@recount/core/EventRegistry"
import { EventStore } from "@recount/core/EventStore"
import { CommandBus } from "@recount/runtime/CommandBus"
import * as EventWorkflow from "@recount/runtime/EventWorkflow"
import * as Workflows from "@recount/runtime/Workflows"
import { AccountNotOpen, BankAccount, Deposit, Open, Withdraw } from "@recount/testing/TestAggregates"
import { fresh } from "@recount/testing/TestIds"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as RecountServer from "@recount/rpc/RecountServer"
import { bootstrapKey, cliAt, eventually, json, layerNodeWith } from "./support/node.js"

class BonusRequested extends Schema.TaggedClass<BonusRequested>()("BonusRequested", { accountId: Schema.String, hold: Schema.Boolean }) {}
const BonusEvents = EventRegistry.make([BonusRequested])

/** Pays a bonus (failing while the account is not open); with `hold`, waits an hour, taking it back if cancelled. */
const CliBonus = EventWorkflow.make({ name: "CliBonus", payload: { accountId: Schema.String, hold: Schema.Boolean }, error: AccountNotOpen })
const CliBonusLive = CliBonus.toLayer((p) =>
  Effect.gen(function*() {
    yield* EventWorkflow.dispatch(BankAccount, p.accountId, new Deposit({ amount: 5 }), { step: "bonus" }).pipe(
      Effect.catchTag("InsufficientFunds", "AlreadyOpened", (e) => Effect.die(e)),
      CliBonus.withCompensation(() =>
        EventWorkflow.dispatch(BankAccount, p.accountId, new Withdraw({ amount: 5 }), { step: "take-back" }).pipe(Effect.orDie, Effect.asVoid))
    )
    if (p.hold) yield* DurableClock.sleep({ name: "hold", duration: "1 hour", inMemoryThreshold: "0 millis" })
  }))

const layerNode = layerNodeWith({
  aggregates: [BankAccount],
  workflows: [Workflows.register(CliBonus, CliBonusLive)],
  triggers: [EventWorkflow.trigger(CliBonus, { events: BonusEvents, payload: (e) => ({ accountId: e.accountId, hold: e.hold }) })]
})

const admin = cliAt()

const request = (accountId: string, hold: boolean) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.flatMap(BonusEvents.toEventData(new BonusRequested({ accountId, hold })), (event) => store.append(`clibonus-${accountId}`, [event])))

interface Execution {
  readonly workflow: string
  readonly executionId: string
  readonly state: string
  readonly attempt: number
  readonly payload: { readonly accountId: string }
  readonly triggeringEvent: { readonly eventId: string; readonly type: string; readonly streamName: string; readonly streamVersion: number } | null
  readonly error: string | null
}
interface Listing {
  readonly workflows: ReadonlyArray<string>
  readonly executions: ReadonlyArray<Execution>
}

const executionsOf = (accountId: string, ...flags: ReadonlyArray<string>) =>
  Effect.map(admin("workflows", "list", "--workflow", "CliBonus", ...flags, "--json"), (r) =>
    json<Listing>(r).executions.filter((x) => x.payload.accountId === accountId))

layer(layerNode, { excludeTestServices: true, timeout: 180_000 })("recount CLI: workflows and streams", (it) => {
  it.effect("workflows list by state with the triggering event, retry a failed one, cancel a suspended one; errors", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const id = fresh("wb")
      yield* request(id, false)
      const [failed] = yield* eventually(executionsOf(id, "--state", "failed"), (xs) => xs.length === 1, 60_000)
      expect(failed).toMatchObject({
        workflow: "CliBonus",
        state: "failed",
        attempt: 1,
        error: "AccountNotOpen",
        triggeringEvent: { type: "BonusRequested", streamName: `clibonus-${id}`, streamVersion: 1 }
      })
      const listing = json<Listing>(yield* admin("workflows", "list", "--json"))
      expect(listing.workflows).toEqual(["CliBonus"])
      const table = yield* admin("workflows", "list", "--state", "failed")
      expect(table.code).toBe(0)
      expect(table.stdout.split("\n")[0]).toMatch(/^workflow\s+execution\s+state\s+attempt\s+triggering event/)
      const line = table.stdout.split("\n").find((l) => l.includes(failed!.executionId))!
      expect(line).toMatch(new RegExp(`^CliBonus\\s+${failed!.executionId}\\s+failed\\s+1\\s+BonusRequested clibonus-${id}@1\\s`))
      expect(line).toMatch(/AccountNotOpen$/)

      yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
      const retried = yield* admin("workflows", "retry", "CliBonus", failed!.executionId)
      expect(retried.code).toBe(0)
      expect(retried.stdout).toMatch(new RegExp(`^CliBonus retries ${failed!.executionId} as attempt 2: execution (\\S+) \\(\\w+\\)$`))
      const next = json<Execution>(yield* admin("workflows", "retry", "CliBonus", failed!.executionId, "--json"))
      expect(retried.stdout).toContain(next.executionId)
      yield* eventually(executionsOf(id, "--state", "completed"), (xs) => xs.some((x) => x.executionId === next.executionId), 60_000)

      const notFailed = yield* admin("workflows", "retry", "CliBonus", next.executionId)
      expect(notFailed).toMatchObject({ code: 1, stderr: `recount: execution ${next.executionId} of CliBonus is completed: only a failed execution can be retried` })
      const unknown = yield* admin("workflows", "list", "--workflow", "Nope")
      expect(unknown).toMatchObject({ code: 1, stderr: "recount: unknown workflow Nope; known: CliBonus" })
      const unknownRetry = yield* admin("workflows", "retry", "Nope", "x")
      expect(unknownRetry).toMatchObject({ code: 1, stderr: "recount: unknown workflow Nope; known: CliBonus" })
      const missing = yield* admin("workflows", "cancel", "CliBonus", "no-such-execution")
      expect(missing).toMatchObject({ code: 1, stderr: "recount: workflow CliBonus has no execution no-such-execution" })
      expect((yield* admin("workflows", "list", "--state", "sleeping")).code).toBe(2)
      const none = yield* admin("workflows", "list", "--workflow", "CliBonus", "--limit", "1", "--state", "running")
      expect(none).toMatchObject({ code: 0, stdout: "(none)\nworkflows on the node: CliBonus" })

      // Cancel: the suspended execution's compensation takes the bonus back.
      const held = fresh("wh")
      yield* bus.dispatch(BankAccount, held, new Open({ owner: "Bo" }))
      yield* request(held, true)
      const [suspended] = yield* eventually(executionsOf(held, "--state", "suspended"), (xs) => xs.length === 1, 60_000)
      const cancelled = yield* admin("workflows", "cancel", "CliBonus", suspended!.executionId)
      expect(cancelled).toMatchObject({ code: 0, stdout: `CliBonus cancels ${suspended!.executionId}; its compensations run` })
      yield* eventually(Effect.map(bus.getState(BankAccount, held), (v) => v.version), (v) => v === 3, 30_000)
      expect((yield* bus.getState(BankAccount, held)).state).toMatchObject({ balance: 0 })
      const ended = yield* eventually(executionsOf(held), (xs) => xs[0]?.state !== "suspended" && xs[0]?.state !== "running")
      const again = yield* admin("workflows", "cancel", "CliBonus", suspended!.executionId)
      expect(again).toMatchObject({ code: 1, stderr: `recount: execution ${suspended!.executionId} of CliBonus is ${ended[0]!.state}: it has ended; only a running or suspended execution can be cancelled` })

      // Workflows serve every tenant: a tenant's admin key may not operate them.
      const key = json<{ key: string }>(yield* admin("keys", "create", "--tenant", "acme", "--role", "admin", "--name", "ops", "--json")).key
      const forbidden = yield* cliAt(key)("workflows", "list")
      expect(forbidden.code).toBe(1)
      expect(forbidden.stderr).toBe("recount: forbidden: workflows serve every tenant; listing them needs the bootstrap admin key")
    }))

  it.effect("streams list: a tenant's streams in name order, paged, by category or prefix; errors", () =>
    Effect.gen(function*() {
      const bus = yield* CommandBus
      const prefix = fresh("ls")
      for (const n of [3, 1, 2]) yield* bus.dispatch(BankAccount, `${prefix}-${n}`, new Open({ owner: "Cy" }))
      yield* bus.dispatch(BankAccount, `${prefix}-2`, new Deposit({ amount: 1 }))
      type Page = { readonly streams: ReadonlyArray<{ readonly streamName: string; readonly category: string; readonly version: number }>; readonly next: string | null }
      const first = json<Page>(yield* admin("streams", "list", "--prefix", `account-${prefix}`, "--limit", "2", "--json"))
      expect(first.streams.map((s) => [s.streamName, s.category, s.version])).toEqual([[`account-${prefix}-1`, "account", 1], [`account-${prefix}-2`, "account", 2]])
      expect(first.next).toBe(`account-${prefix}-2`)
      const second = json<Page>(yield* admin("streams", "list", "--prefix", `account-${prefix}`, "--limit", "2", "--after", first.next!, "--json"))
      expect(second).toEqual({ streams: [expect.objectContaining({ streamName: `account-${prefix}-3`, version: 1 })], next: null })
      const table = yield* admin("streams", "list", "--prefix", `account-${prefix}`, "--limit", "2")
      expect(table.code).toBe(0)
      const lines = table.stdout.split("\n")
      expect(lines[0]).toMatch(/^stream\s+category\s+version\s+created at\s+updated at$/)
      expect(lines.slice(2, 4).map((l) => l.split(/\s+/).slice(0, 3).join(" "))).toEqual([`account-${prefix}-1 account 1`, `account-${prefix}-2 account 2`])
      expect(lines[lines.length - 1]).toBe(`next page: --after account-${prefix}-2`)
      const byCategory = json<Page>(yield* admin("streams", "list", "--category", "clibonus", "--limit", "1000", "--json"))
      expect(byCategory.streams.every((s) => s.category === "clibonus")).toBe(true)
      // Per tenant: another tenant sees none of these; its key cannot list the default tenant.
      const key = json<{ key: string }>(yield* admin("keys", "create", "--tenant", "globex", "--role", "read", "--name", "viewer", "--json")).key
      expect(json<Page>(yield* cliAt(key)("streams", "list", "--prefix", `account-${prefix}`, "--json"))).toEqual({ streams: [], next: null })
      const forbidden = yield* cliAt(key)("streams", "list", "--tenant", "default")
      expect(forbidden).toMatchObject({ code: 1, stderr: "recount: forbidden: the key belongs to another tenant" })
    }))

  it.effect("the same operations over the HTTP face, with their status codes", () =>
    Effect.gen(function*() {
      const url = yield* RecountServer.url
      const http = (path: string, method = "GET", key = bootstrapKey) =>
        Effect.promise(async () => {
          // The face reads every body as JSON: a POST without arguments sends `{}`.
          const response = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${key}` }, ...(method === "POST" ? { body: "{}" } : {}) })
          return { status: response.status, body: await response.json() as Record<string, unknown> }
        })
      const id = fresh("hb")
      yield* request(id, false)
      const failed = yield* eventually(http(`/v1/workflows?workflow=CliBonus&state=failed`), (r) =>
        (r.body.executions as ReadonlyArray<Execution>).some((x) => x.payload.accountId === id), 60_000)
      expect(failed.status).toBe(200)
      const execution = (failed.body.executions as ReadonlyArray<Execution>).find((x) => x.payload.accountId === id)!
      expect(execution).toMatchObject({ state: "failed", triggeringEvent: { type: "BonusRequested", streamName: `clibonus-${id}` } })
      expect(yield* http("/v1/workflows?workflow=Nope")).toEqual({ status: 404, body: { _tag: "UnknownWorkflow", workflow: "Nope", known: ["CliBonus"] } })
      expect(yield* http(`/v1/workflows/CliBonus/executions/nope/cancel`, "POST")).toMatchObject({ status: 404, body: { _tag: "ExecutionNotFound" } })
      expect(yield* http(`/v1/workflows/CliBonus/executions/${execution.executionId}/cancel`, "POST")).toMatchObject({
        status: 409,
        body: { _tag: "InvalidExecutionState", state: "failed" }
      })
      const retried = yield* http(`/v1/workflows/CliBonus/executions/${execution.executionId}/retry`, "POST")
      expect(retried).toMatchObject({ status: 200, body: { workflow: "CliBonus", attempt: 2, triggeringEventId: execution.triggeringEvent!.eventId } })
      const page = yield* http(`/v1/default/streams?prefix=${encodeURIComponent(`clibonus-${id}`)}`)
      expect(page).toEqual({ status: 200, body: { streams: [expect.objectContaining({ streamName: `clibonus-${id}`, category: "clibonus", version: 1 })], next: null } })
      const key = json<{ key: string }>(yield* admin("keys", "create", "--tenant", "initech", "--role", "admin", "--name", "ops", "--json")).key
      expect((yield* http("/v1/workflows", "GET", key)).status).toBe(403)
    }))
})
