import { describe, expect, it } from "@effect/vitest"
import { AddStock, Inventory } from "@recount/example-shop/domain/Inventory"
import { Order, PlaceOrder } from "@recount/example-shop/domain/Order"
import * as RecountClient from "@recount/rpc/RecountClient"
import { eventually } from "@recount/testing/Eventually"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync } from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import Pg from "pg"
import * as PgServer from "../src/PgServer.js"
import * as Runners from "../src/Runners.js"
import { skus } from "../src/Workload.js"

// Regression: after PostgreSQL crash-restarts a runner lost its shard locks, interrupted its
// workflows to hand them over, and @effect/workflow ran their compensations, whose activities
// went to the entity being closed and never answered: the forced shard release waited on them
// forever, no shard was taken back, and every entity call and every projection stopped.
// One runner of the shop under a steady stream of orders (each starts the fulfilment saga, which
// registers a compensation per reserved line; one in five pays with the card the shop refuses, so
// that its saga fails and compensates), its own embedded server crashed three times
// (`pg_ctl stop -m immediate`). Afterwards, within a bound: a new order is acknowledged with its
// projection applied, its saga ships it, a refused order's saga cancels it, and every saga has
// finished (its run has its final reply).
const here = Path.dirname(fileURLToPath(import.meta.url))

describe("a runner under PostgreSQL crash-restarts", () => {
  it("serves commands, sagas and projections again afterwards", async () => {
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const server = yield* PgServer.make()
      const logDir = mkdtempSync(Path.join(Os.tmpdir(), "recount-stall-pg-restart-"))
      const bundles = Path.join(here, "..", "build", "bundles")
      mkdirSync(bundles, { recursive: true })
      const script = yield* Runners.bundle(bundles)
      const adminKey = randomBytes(24).toString("base64url")
      const [runner] = yield* Runners.start({ script, count: 1, databaseUrl: server.url, adminKey, logDir })
      console.log(`runner log in ${logDir}`)
      const client = yield* Effect.map(
        Layer.build(RecountClient.layer({ url: runner!.url, apiKey: adminKey, transport: "http" })),
        Context.get(RecountClient.RecountClient)
      )
      yield* Effect.forEach(skus, (sku) => client.dispatch(Inventory, sku, new AddStock({ quantity: 1_000_000 })), { discard: true })

      // Sagas in flight at every crash: four workers placing two-line orders, outcomes ignored.
      let next = 0
      const placeOne = Effect.suspend(() => {
        const n = next++
        return client.dispatch(Order, `load-${n}`, new PlaceOrder({
          customerId: `c${n % 7}`,
          lines: [{ sku: skus[n % skus.length]!, quantity: 1, price: 3 }, { sku: skus[(n + 1) % skus.length]!, quantity: 1, price: 5 }],
          payment: { method: "card", card: n % 5 === 0 ? "0000" : "4242" }
        }), { timeout: "5 seconds" })
      })
      const worker = Effect.forever(Effect.ignore(placeOne))
      const load = yield* Effect.forkScoped(Effect.all([worker, worker, worker, worker], { concurrency: "unbounded", discard: true }))
      yield* eventually(Effect.sync(() => next), (n) => n >= 20, 60_000)

      for (let i = 0; i < 3; i++) {
        yield* server.crash
        yield* Effect.sleep("2 seconds")
        yield* server.start
        yield* Effect.sleep("5 seconds")
      }
      yield* Fiber.interrupt(load)

      // Within a bound: a fresh order, acknowledged once its projection has applied it.
      const id = `after-restarts-${Date.now().toString(36)}`
      const placed = yield* eventually(
        Effect.either(client.dispatch(Order, id, new PlaceOrder({ customerId: "after", lines: [{ sku: "tea", quantity: 1, price: 2 }] }), {
          commandId: `${id}/place`,
          timeout: "5 seconds",
          consistency: { projections: ["order-summaries"], timeout: "5 seconds" }
        })),
        (result) => result._tag === "Right",
        90_000
      )
      expect(placed._tag).toBe("Right")
      // A never-used aggregate answers, and the new order's saga finishes (paid and shipped).
      const fresh = yield* client.getState(Order, `never-used-${id}`)
      expect(fresh.state).toMatchObject({ status: "none" })
      const done = yield* eventually(
        Effect.map(client.getState(Order, id), (view) => (view.state as { readonly status: string }).status),
        (status) => status === "shipped",
        60_000
      )
      expect(done).toBe("shipped")
      const refused = `${id}-refused`
      yield* client.dispatch(Order, refused, new PlaceOrder({
        customerId: "after",
        lines: [{ sku: "jam", quantity: 1, price: 2 }, { sku: "soap", quantity: 1, price: 2 }],
        payment: { method: "card", card: "0000" }
      }), { commandId: `${refused}/place`, timeout: "5 seconds" })
      yield* eventually(
        Effect.map(client.getState(Order, refused), (view) => (view.state as { readonly status: string }).status),
        (status) => status === "cancelled",
        60_000
      )

      // Every saga's run ends with its reply (the fault suite's check): failed ones after their
      // compensations, the ones handed over at a crash after resuming.
      const pool = yield* Effect.acquireRelease(
        Effect.sync(() => new Pg.Pool({ connectionString: server.url, max: 1 })),
        (pool) => Effect.promise(() => pool.end())
      )
      const unfinished = Effect.promise(() =>
        pool.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM cluster_messages m WHERE m.entity_type LIKE 'Workflow/%' AND m.tag = 'run'
           AND NOT EXISTS (SELECT 1 FROM cluster_replies r WHERE r.request_id = m.id AND r.kind = 0)`
        )
      ).pipe(Effect.map((result) => Number(result.rows[0]!.n)))
      expect(yield* eventually(unfinished, (n) => n === 0, 60_000)).toBe(0)
    })))
  }, 300_000)
})
