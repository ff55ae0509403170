import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { RecountClient } from "../src/RecountClient.js"
import { bootstrapKey, createKey, layerNode, withClient } from "./support/server.js"

const uuid = "00000000-0000-0000-0000-000000000000"

layer(layerNode(), { excludeTestServices: true, timeout: 120_000 })("projection operations over RPC", (it) => {
  it.scoped("are for the bootstrap key, and name an unknown projection", () =>
    Effect.gen(function*() {
      yield* withClient(Effect.gen(function*() {
        const { rpc } = yield* RecountClient
        const calls: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
          rpc.PauseProjection({ name: "nope" }),
          rpc.ResumeProjection({ name: "nope" }),
          rpc.RebuildProjection({ name: "nope" })
        ]
        for (const call of calls) {
          expect(yield* Effect.flip(call)).toMatchObject({ _tag: "UnknownProjection", projection: "nope" })
        }
        expect(yield* rpc.ListDeadLetters({})).toEqual([])
        expect(yield* Effect.flip(rpc.ListDeadLetters({ projection: "nope" }))).toMatchObject({ _tag: "UnknownProjection" })
        expect(yield* Effect.flip(rpc.RetryDeadLetter({ projection: "nope", eventId: uuid }))).toMatchObject({ _tag: "UnknownProjection" })
        expect(yield* Effect.flip(rpc.SkipDeadLetter({ projection: "nope", eventId: uuid }))).toMatchObject({ _tag: "UnknownProjection" })
      }), { apiKey: bootstrapKey, transport: "http" })

      const admin = yield* createKey("acme", "admin")
      yield* withClient(Effect.gen(function*() {
        const { rpc } = yield* RecountClient
        const calls: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
          rpc.PauseProjection({ name: "nope" }),
          rpc.ResumeProjection({ name: "nope" }),
          rpc.RebuildProjection({ name: "nope" }),
          rpc.ListDeadLetters({}),
          rpc.RetryDeadLetter({ projection: "nope", eventId: uuid }),
          rpc.SkipDeadLetter({ projection: "nope", eventId: uuid })
        ]
        for (const call of calls) expect(yield* Effect.flip(call)).toMatchObject({ _tag: "Forbidden" })
      }), { apiKey: admin.key, transport: "http" })
    }))
})
