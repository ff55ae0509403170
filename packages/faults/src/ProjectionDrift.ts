/**
 * Projection drift: does every read model equal a fold of the log? Once the projections have
 * caught up, each view's rows are hashed, the projection is rebuilt from the start of the log
 * (through the API, as an operator would), and the rebuilt rows are hashed and compared. A live
 * read model that applied an event twice, skipped one or kept a write of a batch that did not
 * commit differs from its rebuild. Rows that differ in a projection with dead letters are
 * reported as explained by them (the rebuild applies the parked events again); anywhere else
 * they are drift.
 *
 * @since 0.1.0
 */
import type * as Projection from "@recount/runtime/Projection"
import type * as RecountClient from "@recount/rpc/RecountClient"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import type Pg from "pg"

/** @since 0.1.0 */
export interface ProjectionResult {
  readonly name: string
  readonly rows: number
  readonly liveHash: string
  readonly rebuiltHash: string
  /** Rows in one side and not the other. */
  readonly differing: number
  readonly deadLetters: number
  readonly examples: ReadonlyArray<string>
}

/** @since 0.1.0 */
export interface Drift {
  readonly projections: ReadonlyArray<ProjectionResult>
  /** Differing rows in projections without dead letters. */
  readonly drift: number
  /** Differing rows in projections whose dead letters may explain them. */
  readonly explained: number
  readonly deadLetters: number
}

const rowsOf = (pool: Pg.Pool, tables: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: async () => {
      const rows: Array<string> = []
      for (const table of tables) {
        const result = await pool.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM "${table.replaceAll("\"", "\"\"")}" t`)
        for (const r of result.rows) rows.push(`${table}:${r.row}`)
      }
      return rows.sort()
    },
    catch: (e) => e as Error
  })

const hash = (rows: ReadonlyArray<string>) => createHash("sha256").update(rows.join("\n")).digest("hex").slice(0, 16)

const statuses = (client: RecountClient.RecountClientService, names: ReadonlyArray<string>) =>
  client.rpc.GetProjections({ names }).pipe(Effect.mapError((e) => new Error(`projection status: ${e._tag}`)))

const waitFor = <A>(what: string, read: Effect.Effect<A, Error>, ok: (a: A) => boolean, timeoutMillis: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    while (true) {
      const value = yield* Effect.either(read)
      if (value._tag === "Right" && ok(value.right)) return value.right
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`${what} not reached within ${timeoutMillis} ms: ${value._tag === "Right" ? JSON.stringify(value.right, (_, v) => typeof v === "bigint" ? String(v) : v) : value.left.message}`))
      yield* Effect.sleep("500 millis")
    }
  })

/**
 * Waits for the projections to catch up, then rebuilds each and compares.
 *
 * @since 0.1.0
 */
export const check = (
  pool: Pg.Pool,
  client: RecountClient.RecountClientService,
  projections: ReadonlyArray<Pick<Projection.Any, "name" | "tables">>,
  options: { readonly timeoutMillis: number }
) =>
  Effect.gen(function*() {
    const names = projections.map((p) => p.name)
    const caughtUp = yield* waitFor("projections caught up", statuses(client, names),
      (all) => all.length === names.length && all.every((s) => s.lagEvents === 0 && s.rebuild === null), options.timeoutMillis)
    const live = yield* Effect.forEach(projections, (p) => rowsOf(pool, p.tables))
    const versions = yield* Effect.forEach(names, (name) =>
      Effect.map(client.rpc.RebuildProjection({ name }).pipe(Effect.mapError((e) => new Error(`rebuild ${name}: ${e._tag}`))), (r) => r.version))
    yield* waitFor("rebuilds swapped in", statuses(client, names),
      (all) => all.every((s) => s.rebuild === null && s.version === versions[names.indexOf(s.name)] && s.lagEvents === 0), options.timeoutMillis)
    const results = yield* Effect.forEach(projections, (p, i) =>
      Effect.map(rowsOf(pool, p.tables), (rebuilt): ProjectionResult => {
        const before = new Set(live[i]!)
        const after = new Set(rebuilt)
        const onlyLive = live[i]!.filter((r) => !after.has(r))
        const onlyRebuilt = rebuilt.filter((r) => !before.has(r))
        return {
          name: p.name,
          rows: rebuilt.length,
          liveHash: hash(live[i]!),
          rebuiltHash: hash(rebuilt),
          differing: onlyLive.length + onlyRebuilt.length,
          deadLetters: caughtUp.find((s) => s.name === p.name)?.parkedEvents ?? 0,
          examples: [...onlyLive.slice(0, 3).map((r) => `live only: ${r}`), ...onlyRebuilt.slice(0, 3).map((r) => `rebuilt only: ${r}`)]
        }
      }))
    return {
      projections: results,
      drift: results.filter((r) => r.deadLetters === 0).reduce((n, r) => n + r.differing, 0),
      explained: results.filter((r) => r.deadLetters > 0).reduce((n, r) => n + r.differing, 0),
      deadLetters: results.reduce((n, r) => n + r.deadLetters, 0)
    } satisfies Drift
  })
