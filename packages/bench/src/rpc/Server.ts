/**
 * One Recount node serving the public API on a free loopback port, on the bench database, built
 * once per suite as a `ManagedRuntime` (as `commands/Node.ts` builds one without the API), so a
 * round measures commands and not start-up.
 *
 * @since 0.1.0
 */
import * as PgPool from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
import * as ApiConfig from "@recount/rpc/ApiConfig"
import * as ApiKeys from "@recount/rpc/ApiKeys"
import * as RecountServer from "@recount/rpc/RecountServer"
import * as RecountNode from "@recount/runtime/RecountNode"
import * as RuntimeConfig from "@recount/runtime/RuntimeConfig"
import { BankAccount } from "@recount/testing/TestAggregates"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"

/** @since 0.1.0 */
export interface Options {
  readonly url: string
  readonly poolSize: number
}

/**
 * The node (command bus, stores, pool), its API keys and its API server; Effect's logs go to
 * stderr, keeping stdout for results.
 *
 * @since 0.1.0
 */
export const layer = (options: Options) =>
  RecountServer.layer.pipe(
    Layer.provide(ApiConfig.layer({ host: "127.0.0.1", port: 0 })),
    Layer.provideMerge(ApiKeys.layer()),
    Layer.provideMerge(RecountNode.layerSingle({ aggregates: [BankAccount] })),
    Layer.provideMerge(PgStores.layer),
    Layer.provideMerge(PgPool.layer({ url: Redacted.make(options.url), maxConnections: options.poolSize })),
    Layer.provide(RuntimeConfig.layer({})),
    Layer.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
  )

/** @since 0.1.0 */
export const make = (options: Options) => ManagedRuntime.make(layer(options))

/** @since 0.1.0 */
export type ServerRuntime = ReturnType<typeof make>

/**
 * The API's base URL; asking for it also builds the node.
 *
 * @since 0.1.0
 */
export const address = RecountServer.url
