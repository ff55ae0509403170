/**
 * A dispatch's own waits end when they should, over both faces: with a projection paused, a
 * strong-consistency dispatch answers after its consistency timeout (the events committed, the
 * projection named as lagging) instead of waiting for progress that never comes.
 */
import { expect, layer } from "@effect/vitest"
import { BankAccount, Open } from "@recount/testing/TestAggregates"
import { fresh } from "@recount/testing/TestIds"
import * as Effect from "effect/Effect"
import { RecountClient } from "../src/RecountClient.js"
import * as RecountServer from "../src/RecountServer.js"
import { bootstrapKey, layerNode, Owners, withClient } from "./support/server.js"

const node = layerNode({ aggregates: [BankAccount], projections: [Owners] })

/** Far longer than the consistency timeout: reaching it means the wait never ended. */
const hung = "20 seconds"

layer(node, { excludeTestServices: true, timeout: 120_000 })("consistency waits", (it) => {
  it.scoped("with the projection paused, a strong dispatch answers at its timeout, over RPC and over HTTP", () =>
    withClient(Effect.gen(function*() {
      const client = yield* RecountClient
      yield* client.rpc.PauseProjection({ name: "owners" })

      const overRpc = yield* client.dispatch(BankAccount, fresh("c"), new Open({ owner: "Ada" }), {
        consistency: { projections: ["owners"], timeout: "500 millis" }
      }).pipe(Effect.timeoutFail({ duration: hung, onTimeout: () => "the RPC dispatch never answered" }))
      expect(overRpc.streamVersion).toBe(1)
      expect(overRpc.projections).toMatchObject({ caughtUp: false, lagging: ["owners"] })

      const url = yield* RecountServer.url
      const id = fresh("h")
      const overHttp = yield* Effect.promise(async () => {
        const response = await fetch(`${url}/v1/default/aggregates/account/${id}/commands?consistency=strong&timeoutMillis=500`, {
          method: "POST",
          headers: { authorization: `Bearer ${bootstrapKey}`, "content-type": "application/json" },
          body: JSON.stringify({ _tag: "Open", owner: "Grace" })
        })
        return { status: response.status, body: await response.json() as unknown }
      }).pipe(Effect.timeoutFail({ duration: hung, onTimeout: () => "the HTTP dispatch never answered" }))
      expect(overHttp).toMatchObject({ status: 200, body: { streamVersion: 1, projections: { caughtUp: false, lagging: ["owners"] } } })

      // Resumed, the projection catches up and a strong dispatch waits for it.
      yield* client.rpc.ResumeProjection({ name: "owners" })
      const caughtUp = yield* client.dispatch(BankAccount, fresh("r"), new Open({ owner: "Lin" }), { consistency: "strong" })
      expect(caughtUp.projections).toMatchObject({ caughtUp: true, lagging: [] })
    }), { apiKey: bootstrapKey }))
})
