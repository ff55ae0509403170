import { expect, it } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as RecountClient from "@recount/rpc/RecountClient"
import * as EmbeddedPostgres from "@recount/postgres/EmbeddedPostgres"
import * as TestProcess from "@recount/testing/TestProcess"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { readFile } from "node:fs/promises"
import * as Net from "node:net"
import * as Path from "node:path"
import { AddStock, Inventory } from "../src/index.js"
import * as ShopNode from "./support/ShopNode.js"

const key = "shutdown-test-key"

/** Whether a new TCP connection to the port is accepted. */
const accepts = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

const signals = [
  { name: "SIGTERM to the node (docker stop, systemd, Kubernetes)", send: (pid: number) => process.kill(pid, "SIGTERM") },
  // The embedded PostgreSQL runs in a group of its own, so it outlives the drain here too.
  { name: "Ctrl-C in a terminal (SIGINT to the node's whole process group)", send: (pid: number) => process.kill(-pid, "SIGINT") }
]

it.live.each(signals)("$name drains: commands in flight over HTTP and over WebSocket get their replies, new connections and new commands are refused meanwhile, and the node exits 0", ({ send }) =>
  Effect.gen(function*() {
    // As npm start runs it: on the embedded PostgreSQL, which must outlive the drain.
    const dataDir = Path.join(yield* EmbeddedPostgres.makeTempDir("recount-shutdown-"), "pg")
    const port = yield* TestProcess.freePort
    const node = yield* ShopNode.startInGroup(yield* ShopNode.bundle, {
      DATABASE_URL: undefined,
      RECOUNT_PG_DATA_DIR: dataDir,
      RECOUNT_HTTP_PORT: String(port),
      RECOUNT_ADMIN_KEY: key,
      RECOUNT_DRAIN_TIMEOUT: "30 seconds"
    })
    const api = `http://127.0.0.1:${port}`
    // The embedded server's port is the fourth line of its pid file.
    const pgPort = Number((yield* Effect.promise(() => readFile(Path.join(dataDir, "postmaster.pid"), "utf8"))).split("\n")[3])
    const database = PgClient.layer({ url: Redacted.make(`postgres://postgres:recount@127.0.0.1:${pgPort}/postgres`), maxConnections: 2 })
    yield* Effect.gen(function*() {
      const client = yield* RecountClient.RecountClient
      const sql = yield* PgClient.PgClient
      yield* client.dispatch(Inventory, "drain-http", new AddStock({ quantity: 1 }), { commandId: "drain-http-1" })
      yield* client.dispatch(Inventory, "drain-ws", new AddStock({ quantity: 1 }), { commandId: "drain-ws-1" })
      // A transaction holding both streams' rows keeps the next append to each waiting (appends
      // lock their stream's row): two commands in flight until it commits.
      const release = yield* Deferred.make<void>()
      const locked = yield* Deferred.make<void>()
      const holder = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql.unsafe("SELECT 1 FROM recount_streams WHERE stream_name IN ('inventory-drain-http', 'inventory-drain-ws') FOR UPDATE")
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(release)
      })).pipe(Effect.fork)
      yield* Deferred.await(locked)
      const overHttp = yield* Effect.promise(() =>
        fetch(`${api}/v1/default/aggregates/inventory/drain-http/commands`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "idempotency-key": "drain-http-2", "content-type": "application/json" },
          body: JSON.stringify({ _tag: "AddStock", quantity: 2 })
        }).then(async (response) => ({ status: response.status, body: await response.json() as Record<string, unknown> }))
      ).pipe(Effect.fork)
      const overWebSocket = yield* client.dispatch(Inventory, "drain-ws", new AddStock({ quantity: 2 }), { commandId: "drain-ws-2" }).pipe(Effect.fork)
      yield* Effect.sleep("1 second")
      expect(overHttp.unsafePoll()).toBeNull()
      expect(overWebSocket.unsafePoll()).toBeNull()
      send(node.process.pid!)
      // It stops listening at once, while the two commands are still running.
      yield* Effect.sleep("1 second")
      expect(yield* accepts(port)).toBe(false)
      expect(node.process.exitCode).toBeNull()
      // A new command on the open WebSocket is refused, to be retried with its id elsewhere.
      const refused = yield* Effect.flip(client.dispatch(Inventory, "drain-new", new AddStock({ quantity: 1 }), { commandId: "drain-new" }))
      expect(refused).toMatchObject({ _tag: "AggregateUnavailable", detail: expect.stringContaining("shutting down") })
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      const http = yield* Fiber.join(overHttp)
      expect(http.status).toBe(200)
      expect(http.body).toMatchObject({ aggregate: "inventory", aggregateId: "drain-http", commandId: "drain-http-2", streamVersion: 2, alreadyApplied: false })
      const ws = yield* Fiber.join(overWebSocket)
      expect(ws).toMatchObject({ commandId: "drain-ws-2", streamVersion: 2, alreadyApplied: false })
      // Each command is stored once.
      const rows = yield* sql.unsafe<{ stream_name: string; version: string }>(
        "SELECT stream_name, version FROM recount_streams WHERE category = 'inventory' ORDER BY stream_name"
      )
      expect(rows.map((r) => [r.stream_name, Number(r.version)])).toEqual([["inventory-drain-http", 2], ["inventory-drain-ws", 2]])
      const exit = yield* node.exited.pipe(Effect.timeout("60 seconds"))
      expect(exit).toEqual({ code: 0, signal: null })
    }).pipe(Effect.provide(Layer.merge(RecountClient.layer({ url: api, apiKey: key }), database)), Effect.scoped)
  }).pipe(Effect.scoped), { timeout: 180_000 })
