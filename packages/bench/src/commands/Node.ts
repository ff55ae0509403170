/**
 * One Recount node (a single runner hosting every shard) on the bench database, built once per
 * suite as a `ManagedRuntime`, so a round measures commands and not node start-up.
 *
 * @since 0.1.0
 */
import * as PgPool from "@recount/postgres/PgPool"
import * as PgStores from "@recount/postgres/PgStores"
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
  readonly runtimeConfig?: Parameters<typeof RuntimeConfig.layer>[0] | undefined
}

/**
 * The node's layer: the command bus, the stores (migrated) and the pool; Effect's logs go to
 * stderr, keeping stdout for results.
 *
 * @since 0.1.0
 */
export const layer = (options: Options) =>
  RecountNode.layerSingle({ aggregates: [BankAccount] }).pipe(
    Layer.provideMerge(PgStores.layer),
    Layer.provideMerge(PgPool.layer({ url: Redacted.make(options.url), maxConnections: options.poolSize })),
    Layer.provide(RuntimeConfig.layer(options.runtimeConfig ?? {})),
    Layer.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
  )

/** @since 0.1.0 */
export const make = (options: Options) => ManagedRuntime.make(layer(options))

/** @since 0.1.0 */
export type NodeRuntime = ReturnType<typeof make>
