import * as Aggregate from "@recount/core/Aggregate"
import * as TestDatabase from "@recount/testing/TestDatabase"
import { BankAccount, Order } from "@recount/testing/TestAggregates"
import * as ReadModelTable from "@recount/runtime/ReadModelTable"
import * as RecountNode from "@recount/runtime/RecountNode"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as ApiConfig from "../../src/ApiConfig.js"
import * as ApiKeys from "../../src/ApiKeys.js"
import * as RecountClient from "../../src/RecountClient.js"
import * as RecountServer from "../../src/RecountServer.js"

export const bootstrapKey = "bootstrap-admin-key-for-tests"

export class Touch extends Schema.TaggedClass<Touch>()("Touch", { millis: Schema.Number }) {}
export class Touched extends Schema.TaggedClass<Touched>()("Touched", {}) {}
export class Untouchable extends Schema.TaggedError<Untouchable>()("Untouchable", {}) {}

/** An aggregate whose decisions take a while: for timeouts and conflicts. */
export const Slow = Aggregate.make({
  name: "slow",
  commands: [Touch],
  events: [Touched],
  errors: [Untouchable],
  initialState: 0,
  decide: (_state: number, command: Touch) => Effect.as(Effect.sleep(command.millis), [new Touched()]),
  evolve: (state: number) => state + 1
})

/** Account owners by stream: a read model for tests that need a projection on the node. */
export const Owners = ReadModelTable.make({
  name: "owners",
  table: "owners",
  columns: { account: "text", owner: "text" },
  key: "account",
  events: BankAccount.events,
  on: { Opened: (e, env) => ({ key: env.streamName, set: { owner: e.owner } }) }
})

/** A node with the API on a free loopback port, on a fresh database. */
export const layerNode = (options?: {
  readonly aggregates?: ReadonlyArray<Aggregate.Any>
  readonly projections?: RecountNode.App["projections"]
  readonly maxBodyBytes?: number
  readonly maxMessageBytes?: number
  readonly maxSubscriptionsPerConnection?: number
  readonly requestTimeout?: Duration.DurationInput
  readonly maxPageSize?: number
}) => {
  const { aggregates, projections, ...limits } = options ?? {}
  return RecountServer.layer.pipe(
    Layer.provide(ApiConfig.layer({ port: 0, ...limits })),
    Layer.provideMerge(ApiKeys.layer({ bootstrapKey: Redacted.make(bootstrapKey) })),
    Layer.provideMerge(RecountNode.layerSingle({ aggregates: aggregates ?? [BankAccount, Order, Slow], projections })),
    Layer.provideMerge(TestDatabase.layerStores())
  )
}

/** Runs `effect` with a client of the test node. */
export const withClient = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: { readonly apiKey: string; readonly transport?: "websocket" | "http"; readonly serialization?: "json" | "msgpack"; readonly batch?: boolean }
) =>
  Effect.flatMap(RecountServer.url, (url) =>
    Effect.provide(effect, RecountClient.layer({ url, ...options })))

/** Creates a key with the bootstrap key. */
export const createKey = (tenant: string, role: "read" | "write" | "admin") =>
  withClient(
    Effect.flatMap(RecountClient.RecountClient, (client) => client.rpc.CreateKey({ tenant, role, name: `${tenant}-${role}` })),
    { apiKey: bootstrapKey }
  )
