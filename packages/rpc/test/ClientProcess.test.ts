import { expect, layer } from "@effect/vitest"
import { EventStore } from "@recount/core/EventStore"
import * as RecountNode from "@recount/runtime/RecountNode"
import { BankAccount, Order } from "@recount/testing/TestAggregates"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as TestProcess from "@recount/testing/TestProcess"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as ApiConfig from "../src/ApiConfig.js"
import * as ApiKeys from "../src/ApiKeys.js"
import * as RecountServer from "../src/RecountServer.js"

const here = Path.dirname(fileURLToPath(import.meta.url))

// The node stays up; only its API server restarts, on the same port.
const Node = ApiKeys.layer().pipe(
  Layer.provideMerge(RecountNode.layerSingle({ aggregates: [BankAccount, Order] })),
  Layer.provideMerge(TestDatabase.layerStores())
)

const deposits = (tenant: string, stream: string, count: number) =>
  Effect.flatMap(EventStore, (store) =>
    Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
      store.append(stream, [{ type: "Deposited", data: { amount: i + 1 } }], { tenant }), { discard: true }))

layer(Node, { excludeTestServices: true, timeout: 180_000 })("a client in another process", (it) => {
  it.scoped("dispatches, reads state, uses the HTTP face, and follows a subscription across a server restart with no gap or duplicate", () =>
    Effect.gen(function*() {
      const keys = yield* ApiKeys.ApiKeys
      const key = yield* keys.create({ tenant: "acme", role: "write", name: "process test" })
      const port = yield* TestProcess.freePort
      const server = Layer.provide(RecountServer.layer, ApiConfig.layer({ port }))
      const startServer = Effect.gen(function*() {
        const scope = yield* Scope.make()
        yield* Layer.buildWithScope(server, scope)
        return scope
      })
      let running = yield* startServer

      const script = yield* TestProcess.bundle(Path.join(here, "support", "client.ts"), Path.join(here, "..", "build", "test-bundles"))
      const client = yield* TestProcess.start(script, { RECOUNT_URL: `http://127.0.0.1:${port}`, RECOUNT_KEY: key.key, RECOUNT_EXPECT: "30" })
      const isKind = (kind: string) => (m: unknown) => (m as { kind?: string }).kind === kind
      expect(yield* client.waitFor(isKind("state"))).toMatchObject({ state: { version: 2, state: { status: "open", owner: "Proc", balance: 5 } } })
      expect(yield* client.waitFor(isKind("http"))).toMatchObject({
        posted: { status: 200, body: { streamVersion: 3, alreadyApplied: false } },
        fetched: { status: 200, body: { version: 3, state: { balance: 12 } } }
      })

      yield* deposits("acme", "account-before", 10)
      yield* client.waitFor(() => client.messages().filter(isKind("event")).length >= 13)

      yield* Scope.close(running, Exit.void)
      yield* deposits("acme", "account-during", 10)
      yield* deposits("globex", "account-other-tenant", 5)
      running = yield* startServer
      yield* deposits("acme", "account-after", 7)
      yield* client.waitFor(isKind("done"))
      yield* Scope.close(running, Exit.void)

      const received = client.messages().filter(isKind("event")).map((m) => (m as { eventId: string }).eventId)
      const store = yield* EventStore
      const log = yield* store.readAll({ tenant: "acme", categories: ["account"], batchSize: 1000 })
      expect(received).toEqual(log.events.map((e) => e.eventId))
      expect(received.length).toBe(30)
      expect(new Set(received).size).toBe(30)
    }))
})
