import { expect, layer } from "@effect/vitest"
import { CommandBus } from "@recount/runtime/CommandBus"
import * as RecountServer from "@recount/rpc/RecountServer"
import { BankAccount, Deposit, Open } from "@recount/testing/TestAggregates"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ConfigProvider from "effect/ConfigProvider"
import { createServer } from "node:net"
import { bootstrapKey, cli, cliAt, eventually, json, layerNode, start } from "./support/node.js"
import { fresh } from "@recount/testing/TestIds"

const admin = cliAt()

const open = (id: string, ...deposits: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const bus = yield* CommandBus
    yield* bus.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
    for (const amount of deposits) yield* bus.dispatch(BankAccount, id, new Deposit({ amount }))
  })

/** A port nothing listens on. */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  }))

interface Status {
  readonly name: string
  readonly state: string
  readonly version: number
  readonly lagEvents: number
  readonly parkedEvents: number
  readonly rebuild: unknown
}

layer(layerNode, { excludeTestServices: true, timeout: 180_000 })("recount CLI", (it) => {
  it.effect("state: live, at a version, at a time; as a table and as JSON", () =>
    Effect.gen(function*() {
      const id = fresh("s")
      yield* open(id, 10, 5)
      const live = yield* admin("state", "account", id, "--json")
      expect(live.code).toBe(0)
      expect(json(live)).toEqual({ version: 3, state: { status: "open", owner: "Ada", balance: 15 } })
      expect(json(yield* admin("state", "account", id, "--at-version", "2", "--json"))).toMatchObject({ version: 2, state: { balance: 10 } })
      const before = yield* admin("state", "account", id, "--at-time", "2000-01-01T00:00:00Z", "--json")
      expect(json(before)).toMatchObject({ version: 0 })
      const table = yield* admin("state", "account", id)
      expect(table.stdout).toMatch(/\(version\)\s+3/)
      expect(table.stdout).toMatch(/balance\s+15/)
      const both = yield* admin("state", "account", id, "--at-version", "1", "--at-time", "2000-01-01T00:00:00Z")
      expect(both).toMatchObject({ code: 1, stderr: "recount: give --at-version or --at-time, not both" })
      const unknown = yield* admin("state", "rocket", id)
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toMatch(/^recount: invalid command for rocket: unknown aggregate; known: account/)
    }))

  it.effect("streams show: pages forward and backward", () =>
    Effect.gen(function*() {
      const id = fresh("st")
      yield* open(id, 1, 2, 3)
      const all = json<{ events: ReadonlyArray<{ streamVersion: number; type: string; globalPosition: string }>; next: number | null }>(
        yield* admin("streams", "show", `account-${id}`, "--json")
      )
      expect(all.events.map((e) => e.type)).toEqual(["Opened", "Deposited", "Deposited", "Deposited"])
      expect(typeof all.events[0]!.globalPosition).toBe("string")
      const page = json<{ events: ReadonlyArray<{ streamVersion: number }>; next: number | null }>(
        yield* admin("streams", "show", `account-${id}`, "--backward", "--limit", "2", "--json")
      )
      expect(page.events.map((e) => e.streamVersion)).toEqual([4, 3])
      expect(page.next).toBe(2)
      const table = yield* admin("streams", "show", `account-${id}`, "--from", "3")
      expect(table.code).toBe(0)
      expect(table.stdout.split("\n").slice(2).map((l) => l.split(/\s+/)[0])).toEqual(["3", "4"])
      const bad = yield* admin("streams", "show", "no category")
      expect(bad.code).toBe(1)
      expect(bad.stderr).toMatch(/^recount: .*no category/)
    }))

  it.effect("events tail: prints new events as they come (the whole log with --from-start), until interrupted", () =>
    Effect.gen(function*() {
      const id = fresh("t")
      yield* open(id, 1)
      const url = yield* RecountServer.url
      const live = yield* start("events", "tail", "--category", "account", "--json", "--url", url, "--key", bootstrapKey)
      const everything = yield* start("events", "tail", "--from-start", "--category", "account", "--url", url, "--key", bootstrapKey)
      yield* Effect.sleep("1500 millis")
      yield* open(`${id}x`, 7)
      const printed = yield* eventually(Effect.sync(() => live.out.map((l) => JSON.parse(l) as { streamName: string; type: string })), (all) => all.length >= 2)
      // Only what was recorded after the tail started.
      expect(printed.map((e) => `${e.streamName} ${e.type}`)).toEqual([`account-${id}x Opened`, `account-${id}x Deposited`])
      const whole = yield* eventually(Effect.sync(() => everything.out), (all) => all.some((l) => l.includes(`account-${id}x@2`)))
      expect(whole.some((l) => l.includes(`account-${id}@1  Opened`))).toBe(true)
      expect(whole.findIndex((l) => l.includes(`account-${id}@1`))).toBeLessThan(whole.findIndex((l) => l.includes(`account-${id}x@1`)))
      yield* Fiber.interrupt(live.fiber)
      yield* Fiber.interrupt(everything.fiber)
      expect(live.err).toEqual([])
    }))

  it.effect("projections status, pause, resume and rebuild with progress until the swap", () =>
    Effect.gen(function*() {
      const id = fresh("p")
      yield* open(id, 4, 6)
      const all = json<ReadonlyArray<Status>>(yield* admin("projections", "status", "--json"))
      expect(all.map((s) => s.name).sort()).toEqual(["cli_balances", "cli_choker"])
      const table = yield* admin("projections", "status")
      expect(table.stdout.split("\n")[0]).toMatch(/^name\s+state\s+version\s+lag/)
      expect(table.stdout).toContain("cli_balances")

      const paused = json<Status>(yield* admin("projections", "pause", "cli_balances", "--json"))
      expect(paused).toMatchObject({ name: "cli_balances", state: "paused" })
      yield* open(fresh("p"), 1)
      const waiting = yield* eventually(
        Effect.map(admin("projections", "status", "cli_balances", "--json"), (r) => json<ReadonlyArray<Status>>(r)[0]!),
        (s) => s.lagEvents >= 2
      )
      expect(waiting).toMatchObject({ state: "paused" })
      const resumed = json<Status>(yield* admin("projections", "resume", "cli_balances", "--json"))
      expect(resumed.state).not.toBe("paused")
      const caughtUp = yield* eventually(
        Effect.map(admin("projections", "status", "cli_balances", "--json"), (r) => json<ReadonlyArray<Status>>(r)[0]!),
        (s) => s.lagEvents === 0
      )
      expect(caughtUp.lagEvents).toBe(0)

      const rebuilt = yield* admin("projections", "rebuild", "cli_balances", "--interval", "50")
      expect(rebuilt.code).toBe(0)
      const lines = rebuilt.stdout.split("\n")
      expect(lines[0]).toBe("rebuilding cli_balances to version 2")
      expect(lines[lines.length - 1]).toMatch(/^\[#{30}\] 100% {2}cli_balances now serves version 2$/)
      expect(json<ReadonlyArray<Status>>(yield* admin("projections", "status", "cli_balances", "--json"))[0]).toMatchObject({ version: 2, rebuild: null })
      const detached = json<{ version: number }>(yield* admin("projections", "rebuild", "cli_balances", "--detach", "--json"))
      expect(detached.version).toBe(3)

      const unknown = yield* admin("projections", "pause", "nope")
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toBe("recount: unknown projection nope; known: cli_balances, cli_choker")
      const notSideEffect = yield* admin("projections", "rebuild", "nope")
      expect(notSideEffect.stderr).toMatch(/^recount: unknown projection nope/)
    }))

  it.effect("dead-letters list, retry and skip", () =>
    Effect.gen(function*() {
      const id = fresh("d")
      yield* open(id, 13)
      type Letter = { readonly projection: string; readonly eventId: string; readonly status: string; readonly streamName: string; readonly error: string }
      const parked = yield* eventually(
        Effect.map(admin("dead-letters", "list", "--projection", "cli_choker", "--json"), (r) => json<ReadonlyArray<Letter>>(r)),
        (all) => all.some((d) => d.streamName === `account-${id}`)
      )
      const letter = parked.find((d) => d.streamName === `account-${id}`)!
      expect(letter).toMatchObject({ projection: "cli_choker", status: "parked" })
      expect(letter.error).toContain("cannot handle 13")
      const table = yield* admin("dead-letters", "list")
      expect(table.stdout).toContain(letter.eventId)
      expect(table.stdout).toContain(`account-${id}@2`)

      // Retrying fails again (the handler still chokes) and parks it again; then skip it.
      const retried = yield* admin("dead-letters", "retry", "cli_choker", letter.eventId)
      expect(retried).toMatchObject({ code: 0, stdout: `cli_choker will apply ${letter.eventId} again` })
      yield* eventually(
        Effect.map(admin("dead-letters", "list", "--projection", "cli_choker", "--status", "parked", "--json"), (r) => json<ReadonlyArray<Letter>>(r)),
        (all) => all.some((d) => d.eventId === letter.eventId)
      )
      expect((yield* admin("dead-letters", "skip", "cli_choker", letter.eventId, "--json")).code).toBe(0)
      const skipped = json<ReadonlyArray<Letter>>(yield* admin("dead-letters", "list", "--projection", "cli_choker", "--status", "skipped", "--json"))
      expect(skipped.map((d) => d.eventId)).toContain(letter.eventId)
      const missing = yield* admin("dead-letters", "skip", "cli_choker", "00000000-0000-0000-0000-000000000000")
      expect(missing).toMatchObject({ code: 1, stderr: "recount: projection cli_choker has no parked event 00000000-0000-0000-0000-000000000000" })
    }))

  it.effect("keys create, list and revoke; a revoked key is refused", () =>
    Effect.gen(function*() {
      type Key = { readonly id: string; readonly tenant: string; readonly role: string; readonly name: string; readonly key: string; readonly revokedAt: string | null }
      const created = json<Key>(yield* admin("keys", "create", "--tenant", "acme", "--role", "admin", "--name", "ops", "--json"))
      expect(created).toMatchObject({ tenant: "acme", role: "admin", name: "ops", revokedAt: null })
      const acme = cliAt(created.key)
      const reader = yield* acme("keys", "create", "--role", "read", "--name", "dashboard")
      expect(reader.code).toBe(0)
      expect(reader.stdout).toMatch(/dashboard/)
      expect(reader.stdout).toContain("The key is shown only now")
      const listed = json<ReadonlyArray<Key>>(yield* acme("keys", "list", "--json"))
      expect(listed.map((k) => k.name).sort()).toEqual(["dashboard", "ops"])
      expect(listed.every((k) => k.tenant === "acme")).toBe(true)
      expect((yield* admin("keys", "list")).stdout).toMatch(/acme\s+admin\s+ops/)
      const revoked = json<Key>(yield* admin("keys", "revoke", created.id, "--json"))
      expect(revoked.revokedAt).not.toBeNull()
      const refused = yield* acme("keys", "list")
      expect(refused).toMatchObject({ code: 1, stderr: "recount: unauthorized: the API key is revoked" })
      // Projections are for the bootstrap key.
      const other = json<Key>(yield* admin("keys", "create", "--tenant", "acme", "--role", "admin", "--name", "ops2", "--json"))
      const forbidden = yield* cliAt(other.key)("projections", "status")
      expect(forbidden.code).toBe(1)
      expect(forbidden.stderr).toMatch(/^recount: forbidden: projections read every tenant's events/)
      expect((yield* cliAt(other.key)("keys", "create", "--role", "superuser", "--name", "x")).code).toBe(2)
    }))

  it.effect("errors: a bad key, no key, a node that is not there; URL and key from the environment", () =>
    Effect.gen(function*() {
      const badKey = yield* cliAt("rk_nope")("keys", "list")
      expect(badKey.code).toBe(1)
      expect(badKey.stderr).toMatch(/^recount: unauthorized: /)
      const url = yield* RecountServer.url
      const noKey = yield* cli("keys", "list", "--url", url).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
      expect(noKey).toMatchObject({ code: 1, stderr: "recount: no API key: pass --key or set RECOUNT_KEY" })
      const port = yield* closedPort
      const down = yield* cli("projections", "status", "--url", `http://127.0.0.1:${port}`, "--key", bootstrapKey)
      expect(down).toMatchObject({ code: 1, stderr: `recount: cannot reach http://127.0.0.1:${port}: ECONNREFUSED` })
      const tailDown = yield* cli("events", "tail", "--url", `http://127.0.0.1:${port}`, "--key", bootstrapKey)
      expect(tailDown).toMatchObject({ code: 1, stderr: `recount: cannot reach http://127.0.0.1:${port}: ECONNREFUSED` })
      const fromEnv = yield* cli("keys", "list", "--json").pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["RECOUNT_URL", url], ["RECOUNT_KEY", bootstrapKey]])))
      )
      expect(fromEnv.code).toBe(0)
      expect(Array.isArray(json(fromEnv))).toBe(true)
      const usage = yield* cli("state")
      expect(usage.code).toBe(2)
    }))

  it.effect("migrate: runs against DATABASE_URL and says when the schema is up to date", () =>
    Effect.gen(function*() {
      const url = yield* TestDatabase.TestDatabaseUrl
      const run = yield* cli("migrate").pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DATABASE_URL", url]]))))
      expect(run).toMatchObject({ code: 0, stdout: "the schema is up to date" })
    }))
})
