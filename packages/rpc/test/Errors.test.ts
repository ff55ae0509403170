import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import { CommandBus } from "@recount/runtime/CommandBus"
import { BankAccount, Deposit, Open } from "@recount/testing/TestAggregates"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as ApiKeys from "../src/ApiKeys.js"
import { RecountClient } from "../src/RecountClient.js"
import * as RecountServer from "../src/RecountServer.js"
import * as PgClient from "@effect/sql-pg/PgClient"
import { bootstrapKey, createKey, layerNode, Slow, Touch, withClient } from "./support/server.js"
import { fresh } from "@recount/testing/TestIds"
import { eventually } from "@recount/testing/Eventually"


const http = (path: string, init: { readonly method?: string; readonly key?: string | undefined; readonly body?: string; readonly headers?: Record<string, string> } = {}) =>
  Effect.flatMap(RecountServer.url, (url) =>
    Effect.promise(async () => {
      const response = await fetch(`${url}${path}`, {
        method: init.method ?? "GET",
        headers: { ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), "content-type": "application/json", ...init.headers },
        ...(init.body === undefined ? {} : { body: init.body })
      })
      const text = await response.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON
      }
      return { status: response.status, body }
    }))

/** Appends to the slow aggregate's stream behind its back while it decides. */
const interfere = (tenant: string, id: string) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.forever(Effect.zipRight(store.append(`slow-${id}`, [{ type: "Touched", data: {} }], { tenant }), Effect.sleep("40 millis"))))

layer(layerNode({ maxSubscriptionsPerConnection: 2, maxBodyBytes: 64 * 1024, maxMessageBytes: 64 * 1024 }), { excludeTestServices: true, timeout: 120_000 })("API errors", (it) => {
  it.scoped("over RPC: every error is typed and names what was wrong", () =>
    Effect.gen(function*() {
      const writer = yield* createKey("acme", "write")
      const reader = yield* createKey("acme", "read")
      const id = fresh("e")

      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        yield* client.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
        // Wrong types, unknown command types and unknown aggregates: InvalidCommand naming the problem.
        const wrongType = yield* Effect.flip(client.rpc.Dispatch({ aggregate: "account", id, command: { _tag: "Deposit", amount: "ten" } }))
        expect(wrongType).toMatchObject({ _tag: "InvalidCommand", aggregate: "account" })
        expect((wrongType as { detail: string }).detail).toContain("amount")
        const unknownCommand = yield* Effect.flip(client.rpc.Dispatch({ aggregate: "account", id, command: { _tag: "Fly" } }))
        expect(unknownCommand).toMatchObject({ _tag: "InvalidCommand" })
        const unknownAggregate = yield* Effect.flip(client.rpc.Dispatch({ aggregate: "rocket", id, command: {} }))
        expect(unknownAggregate).toMatchObject({ _tag: "InvalidCommand", aggregate: "rocket" })
        expect((unknownAggregate as { detail: string }).detail).toContain("known: account")
        // Consistency with an unknown projection is refused before the command runs.
        expect(yield* Effect.flip(client.dispatch(BankAccount, id, new Deposit({ amount: 1 }), { consistency: { projections: ["nope"] } })))
          .toMatchObject({ _tag: "UnknownProjection", projection: "nope" })
        // Another tenant: Forbidden, whatever the ids.
        expect(yield* Effect.flip(client.dispatch(BankAccount, id, new Deposit({ amount: 1 }), { tenant: "globex" }))).toMatchObject({ _tag: "Forbidden" })
        // A bad stream name.
        expect(yield* Effect.flip(client.readStream("no category"))).toMatchObject({ _tag: "InvalidStreamName" })
        // Timeout: the decision takes longer than the caller waits.
        const slowId = fresh("t")
        expect(yield* Effect.flip(client.dispatch(Slow, slowId, new Touch({ millis: 500 }), { timeout: "50 millis" })))
          .toMatchObject({ _tag: "CommandTimeout", aggregate: "slow", aggregateId: slowId })
        // Conflict: another writer appends to the stream during every decision.
        const hotId = fresh("c")
        const noise = yield* Effect.fork(interfere("acme", hotId))
        const conflict = yield* Effect.flip(client.dispatch(Slow, hotId, new Touch({ millis: 150 })))
        yield* Fiber.interrupt(noise)
        expect(conflict).toMatchObject({ _tag: "CommandConflict", aggregate: "slow", aggregateId: hotId })
        // A stored event that no longer decodes: the state cannot be folded.
        const store = yield* EventStore
        const broken = fresh("b")
        yield* store.append(`account-${broken}`, [{ type: "Deposited", data: { amount: "not a number" } }], { tenant: "acme" })
        expect(yield* Effect.flip(client.getState(BankAccount, broken, { version: 1 }))).toMatchObject({ _tag: "AggregateUnavailable", aggregateId: broken })
        // Limits: open subscriptions per connection.
        const first = yield* Effect.fork(Stream.runDrain(client.subscribe()))
        const second = yield* Effect.fork(Stream.runDrain(client.subscribe()))
        yield* Effect.sleep("300 millis")
        expect(yield* Effect.flip(Stream.runDrain(client.subscribe()))).toMatchObject({ _tag: "LimitExceeded", max: 2 })
        yield* Fiber.interrupt(first)
        yield* Fiber.interrupt(second)
        // Projection status is for the bootstrap key only.
        expect(yield* Effect.flip(client.rpc.GetProjections({}))).toMatchObject({ _tag: "Forbidden" })
      }), { apiKey: writer.key })

      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        expect((yield* client.getState(BankAccount, id)).version).toBe(1)
        expect(yield* Effect.flip(client.dispatch(BankAccount, id, new Deposit({ amount: 1 })))).toMatchObject({ _tag: "Forbidden" })
        expect(yield* Effect.flip(client.rpc.CreateKey({ role: "admin", name: "escalate" }))).toMatchObject({ _tag: "Forbidden" })
      }), { apiKey: reader.key })

      for (const apiKey of ["", "rk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not a key"]) {
        const refused = yield* withClient(Effect.flip(Effect.flatMap(RecountClient, (c) => c.getState(BankAccount, id))), { apiKey, transport: "http" })
        expect(refused).toMatchObject({ _tag: "Unauthorized" })
      }
    }))

  it.scoped("over HTTP: status codes with a typed JSON body", () =>
    Effect.gen(function*() {
      const { key } = yield* createKey("acme", "write")
      const id = fresh("h")
      const commands = `/v1/acme/aggregates/account/${id}/commands`
      expect(yield* http(commands, { method: "POST", key, body: JSON.stringify({ _tag: "Open", owner: "Ada" }) })).toMatchObject({ status: 200, body: { streamVersion: 1 } })
      expect(yield* http(commands, { method: "POST", body: JSON.stringify({ _tag: "Deposit", amount: 1 }) })).toMatchObject({ status: 401, body: { _tag: "Unauthorized" } })
      expect(yield* http(commands, { method: "POST", key: "rk_nope", body: "{}" })).toMatchObject({ status: 401, body: { _tag: "Unauthorized" } })
      expect(yield* http(`/v1/globex/aggregates/account/${id}/commands`, { method: "POST", key, body: JSON.stringify({ _tag: "Deposit", amount: 1 }) }))
        .toMatchObject({ status: 403, body: { _tag: "Forbidden" } })
      const wrongType = yield* http(commands, { method: "POST", key, body: JSON.stringify({ _tag: "Deposit", amount: "ten" }) })
      expect(wrongType).toMatchObject({ status: 400, body: { _tag: "InvalidCommand" } })
      expect((wrongType.body as { detail: string }).detail).toContain("amount")
      expect(yield* http(`/v1/acme/aggregates/rocket/${id}/commands`, { method: "POST", key, body: "{}" })).toMatchObject({ status: 400, body: { _tag: "InvalidCommand" } })
      const malformed = yield* http(commands, { method: "POST", key, body: "{\"_tag\": \"Deposit\", amount: " })
      expect(malformed.status).toBe(400)
      const oversized = yield* http(commands, { method: "POST", key, body: JSON.stringify({ _tag: "Open", owner: "x".repeat(100 * 1024) }) })
      expect(oversized).toMatchObject({ status: 413, body: { _tag: "LimitExceeded", limit: "request body bytes", max: 64 * 1024 } })
      expect(yield* http(commands, { method: "POST", key, body: JSON.stringify({ _tag: "Withdraw", amount: 5 }) }))
        .toMatchObject({ status: 422, body: { _tag: "DomainError", aggregate: "account", error: { _tag: "InsufficientFunds", balance: 0, requested: 5 } } })
      expect(yield* http(`/v1/acme/aggregates/slow/${fresh("s")}/commands?timeoutMillis=50`, { method: "POST", key, body: JSON.stringify({ _tag: "Touch", millis: 500 }) }))
        .toMatchObject({ status: 504, body: { _tag: "CommandTimeout" } })
      const hotId = fresh("hc")
      const noise = yield* Effect.fork(interfere("acme", hotId))
      const conflict = yield* http(`/v1/acme/aggregates/slow/${hotId}/commands`, { method: "POST", key, body: JSON.stringify({ _tag: "Touch", millis: 150 }) })
      yield* Fiber.interrupt(noise)
      expect(conflict).toMatchObject({ status: 409, body: { _tag: "CommandConflict" } })
      expect(yield* http(`/v1/acme/streams/${encodeURIComponent("no category")}`, { key })).toMatchObject({ status: 400, body: { _tag: "InvalidStreamName" } })
      const broken = fresh("hb")
      yield* Effect.flatMap(EventStore, (store) => store.append(`account-${broken}`, [{ type: "Deposited", data: { amount: "not a number" } }], { tenant: "acme" }))
      expect(yield* http(`/v1/acme/aggregates/account/${broken}/state?version=1`, { key })).toMatchObject({ status: 503, body: { _tag: "AggregateUnavailable" } })
      expect(yield* http("/v1/projections", { key })).toMatchObject({ status: 403, body: { _tag: "Forbidden" } })
      expect((yield* http("/v1/projections", { key: bootstrapKey })).status).toBe(200)
      // Retrying with the same Idempotency-Key returns the original result.
      const once = yield* http(commands, { method: "POST", key, body: JSON.stringify({ _tag: "Deposit", amount: 3 }), headers: { "idempotency-key": `k-${id}` } })
      const twice = yield* http(commands, { method: "POST", key, body: JSON.stringify({ _tag: "Deposit", amount: 3 }), headers: { "idempotency-key": `k-${id}` } })
      expect(twice.body).toMatchObject({ streamVersion: (once.body as { streamVersion: number }).streamVersion, alreadyApplied: true })
      expect(yield* http(`/v1/acme/aggregates/account/${id}/state`, { key })).toMatchObject({ status: 200, body: { version: 2, state: { balance: 3 } } })
      const openapi = yield* http("/openapi.json")
      expect(openapi.status).toBe(200)
      expect(Object.keys((openapi.body as { paths: Record<string, unknown> }).paths)).toContain("/v1/{tenant}/aggregates/{name}/{id}/commands")
    }))

  it.scoped("a WebSocket message over the limit closes the connection and runs nothing", () =>
    Effect.gen(function*() {
      const key = yield* createKey("acme", "write")
      const id = fresh("big")
      const outcome = yield* withClient(
        Effect.flatMap(RecountClient, (c) => c.dispatch(BankAccount, id, new Open({ owner: "x".repeat(100 * 1024) }))).pipe(
          Effect.timeout("5 seconds"),
          Effect.exit
        ),
        { apiKey: key.key, transport: "websocket" }
      )
      expect(outcome).toMatchObject({
        _tag: "Failure",
        cause: { error: { _tag: "RpcClientError", cause: { reason: "Close", code: 1009 } } }
      })
      const store = yield* EventStore
      expect(yield* store.streamVersion(`account-${id}`, { tenant: "acme" })).toBe(0)
    }))

  it.scoped("a key's id with another secret is refused, also right after the key was accepted (the checked secret is cached)", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const key = yield* createKey("acme", "write")
      expect(yield* keys.authenticate(key.key)).toMatchObject({ keyId: key.id, tenant: "acme", role: "write" })
      // Same id, same length, last character changed.
      const last = key.key.at(-1) === "A" ? "B" : "A"
      const forged = `${key.key.slice(0, -1)}${last}`
      expect(yield* Effect.flip(keys.authenticate(forged))).toMatchObject({ _tag: "Unauthorized", reason: "unknown API key" })
      expect(yield* keys.authenticate(key.key)).toMatchObject({ keyId: key.id })
      expect(yield* Effect.flip(keys.authenticate(forged))).toMatchObject({ _tag: "Unauthorized", reason: "unknown API key" })
    }))

  it.scoped("a key revoked behind this node's back (another node) is refused once its cached row lapses", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const sql = yield* PgClient.PgClient
      const key = yield* createKey("acme", "write")
      // One effect, run again and again: each run checks the key anew.
      const authenticate = keys.authenticate(key.key)
      expect(yield* authenticate).toMatchObject({ keyId: key.id })
      yield* sql`UPDATE recount_api_keys SET revoked_at = now() WHERE id = ${key.id}`
      const refused = yield* eventually(Effect.either(authenticate), (r) => r._tag === "Left", 10_000)
      expect(refused).toMatchObject({ _tag: "Left", left: { _tag: "Unauthorized", reason: "the API key is revoked" } })
    }))

  it.scoped("a revoked key is refused on the next message of an open WebSocket", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const key = yield* createKey("acme", "write")
      const id = fresh("r")
      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        yield* client.dispatch(BankAccount, id, new Open({ owner: "Ada" }))
        yield* keys.revoke(key.id)
        expect(yield* Effect.flip(client.getState(BankAccount, id))).toMatchObject({ _tag: "Unauthorized", reason: "the API key is revoked" })
        expect(yield* Effect.flip(client.dispatch(BankAccount, id, new Deposit({ amount: 1 })))).toMatchObject({ _tag: "Unauthorized" })
      }), { apiKey: key.key, transport: "websocket" })
      const store = yield* EventStore
      expect(yield* store.streamVersion(`account-${id}`, { tenant: "acme" })).toBe(1)
    }))

  it.scoped("bootstrap and admin keys manage keys, within their tenant for an admin", () =>
    Effect.gen(function*() {
      const admin = yield* createKey("acme", "admin")
      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        const created = yield* client.rpc.CreateKey({ role: "read", name: "dashboard" })
        expect(created).toMatchObject({ tenant: "acme", role: "read", name: "dashboard", revokedAt: null })
        expect((yield* client.rpc.ListKeys({})).every((k) => k.tenant === "acme")).toBe(true)
        expect(yield* Effect.flip(client.rpc.CreateKey({ tenant: "globex", role: "admin", name: "x" }))).toMatchObject({ _tag: "Forbidden" })
        const other = yield* createKey("globex", "read")
        expect(yield* Effect.flip(client.rpc.RevokeKey({ id: other.id }))).toMatchObject({ _tag: "Forbidden" })
        expect((yield* client.rpc.RevokeKey({ id: created.id })).revokedAt).not.toBeNull()
      }), { apiKey: admin.key })
      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        const all = yield* client.rpc.ListKeys({})
        expect(new Set(all.map((k) => k.tenant))).toEqual(new Set(["acme", "globex"]))
      }), { apiKey: bootstrapKey })
    }))

})

layer(layerNode({ requestTimeout: "300 millis", maxPageSize: 3 }), { excludeTestServices: true, timeout: 120_000 })("request limits", (it) => {
  it.scoped("a stream page never holds more than the page limit, and says where the next starts", () =>
    Effect.gen(function*() {
      const key = yield* createKey("acme", "read")
      const store = yield* EventStore
      const stream = `account-${fresh("page")}`
      yield* store.append(stream, [1, 2, 3, 4, 5].map((amount) => ({ type: "Deposited", data: { amount } })), { tenant: "acme" })
      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        const first = yield* client.readStream(stream, { limit: 100 })
        expect(first.events.map((e) => e.streamVersion)).toEqual([1, 2, 3])
        expect(first.next).toBe(4)
        const second = yield* client.readStream(stream, { fromVersion: first.next! })
        expect(second).toMatchObject({ next: null })
        expect(second.events.map((e) => e.streamVersion)).toEqual([4, 5])
      }), { apiKey: key.key })
    }))

  it.scoped("bounds reads and commands: a state read queued behind a slow command times out", () =>
    Effect.gen(function*() {
      const key = yield* createKey("acme", "write")
      const id = fresh("rt")
      // The aggregate is busy for 3 s with a command from inside the node, which no request limit bounds.
      const bus = yield* CommandBus
      const busy = yield* Effect.fork(bus.dispatch(Slow, id, new Touch({ millis: 3000 }), { tenant: "acme", timeout: "10 seconds" }))
      yield* Effect.sleep("300 millis")
      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        expect(yield* Effect.flip(client.getState(Slow, id))).toMatchObject({ _tag: "CommandTimeout", timeoutMillis: 300 })
        // A command that asks for more time than the server allows: the server's limit wins.
        expect(yield* Effect.flip(client.dispatch(Slow, fresh("rt"), new Touch({ millis: 3000 }), { timeout: "10 seconds" })))
          .toMatchObject({ _tag: "CommandTimeout", timeoutMillis: 300 })
      }), { apiKey: key.key })
      expect(yield* Fiber.join(busy)).toMatchObject({ streamVersion: 1 })
    }))

  it.scoped("a database that does not answer is StoreUnavailable or ProjectionsUnavailable, 503 over HTTP", () =>
    Effect.gen(function*() {
      const key = yield* createKey("acme", "read")
      const sql = yield* PgClient.PgClient
      // Another session holds the tables: reads wait on the lock past the request timeout.
      const holder = yield* sql.reserve
      yield* holder.executeRaw("BEGIN", [])
      yield* holder.executeRaw("LOCK TABLE recount_events, recount_projections IN ACCESS EXCLUSIVE MODE", [])
      yield* withClient(Effect.gen(function*() {
        const client = yield* RecountClient
        expect(yield* Effect.flip(client.readStream("account-locked"))).toMatchObject({ _tag: "StoreUnavailable", operation: "readStream" })
      }), { apiKey: key.key })
      expect(yield* withClient(Effect.flip(Effect.flatMap(RecountClient, (c) => c.rpc.GetProjections({}))), { apiKey: bootstrapKey }))
        .toMatchObject({ _tag: "ProjectionsUnavailable" })
      expect(yield* http("/v1/acme/streams/account-locked", { key: key.key })).toMatchObject({ status: 503, body: { _tag: "StoreUnavailable" } })
      expect(yield* http("/v1/projections", { key: bootstrapKey })).toMatchObject({ status: 503, body: { _tag: "ProjectionsUnavailable" } })
      yield* holder.executeRaw("ROLLBACK", [])
      expect((yield* http("/v1/acme/streams/account-locked", { key: key.key })).status).toBe(200)
    }))
})
