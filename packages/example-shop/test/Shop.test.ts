import { describe, expect, it, layer } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { DeciderSpec } from "@recount/core"
import * as ApiConfig from "@recount/rpc/ApiConfig"
import * as ApiKeys from "@recount/rpc/ApiKeys"
import * as RecountServer from "@recount/rpc/RecountServer"
import * as Projections from "@recount/runtime/Projections"
import * as RecountNode from "@recount/runtime/RecountNode"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { aggregates, Order, OrderPaid, OrderPlaced, PayOrder, PlaceOrder, projections, WrongAmount } from "../src/index.js"

const key = "shop-test-key"
const Node = RecountServer.layer.pipe(
  Layer.provide(ApiConfig.layer({ port: 0 })),
  Layer.provideMerge(ApiKeys.layer({ bootstrapKey: Redacted.make(key) })),
  Layer.provideMerge(RecountNode.layerSingle({ aggregates, projections })),
  Layer.provideMerge(TestDatabase.layerStores())
)

describe("the order decider", () => {
  it("pays the exact total only", () => {
    const placed = new OrderPlaced({ customerId: "c", lines: [{ sku: "tea", quantity: 2, price: 4.5 }], total: 9 })
    DeciderSpec.for(Order).given([placed]).when(new PayOrder({ amount: 9 })).then([new OrderPaid({ amount: 9 })])
    DeciderSpec.for(Order).given([placed]).when(new PayOrder({ amount: 8 })).thenFails(new WrongAmount({ due: 9, paid: 8 }))
  })
})

layer(Node, { excludeTestServices: true, timeout: 120_000 })("the shop node", (it) => {
  it.effect("takes the README's curl (a form-labelled JSON body) and shows the order in its read model", () =>
    Effect.gen(function*() {
      const url = yield* RecountServer.url
      const response = yield* Effect.promise(() =>
        fetch(`${url}/v1/default/aggregates/order/o-1/commands?consistency=strong`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/x-www-form-urlencoded", "idempotency-key": "place-o-1" },
          body: JSON.stringify(new PlaceOrder({ customerId: "c-1", lines: [{ sku: "tea", quantity: 2, price: 4.5 }] }))
        }).then(async (r) => ({ status: r.status, body: await r.json() })))
      expect(response).toMatchObject({ status: 200, body: { streamVersion: 1, projections: { caughtUp: true } } })
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql.unsafe("SELECT order_id, customer_id, total::float8 AS total, status FROM order_summaries")
      expect(rows).toEqual([{ order_id: "o-1", customer_id: "c-1", total: 9, status: "placed" }])
      const [status] = yield* Effect.flatMap(Projections.Projections, (p) => p.status())
      expect(status).toMatchObject({ name: "order-summaries", lagEvents: 0, eventsApplied: 1n })
    }))
})
