/**
 * `PoolSqlClient` without spans sends a statement on the connection of the fiber that runs it:
 * inside a transaction, that transaction's client; anywhere else, the pool. Fibers that run at the
 * same time, one inside a transaction and one outside, must each get theirs, and a fiber forked
 * inside the transaction stays in it.
 */
import { expect, layer } from "@effect/vitest"
import * as PgPool from "@recount/postgres/PgPool"
import * as PoolSqlClient from "@recount/postgres/PoolSqlClient"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

layer(TestDatabase.layerClient(), { excludeTestServices: true, timeout: 120_000 })("PoolSqlClient", (it) => {
  it.effect("statements follow their own fiber's transaction, run alone or beside others", () =>
    Effect.gen(function*() {
      const pool = yield* PgPool.PgPool
      const sql = yield* PoolSqlClient.make(pool, { spans: false })
      const pid = Effect.map(sql.unsafe<{ pid: number }>("SELECT pg_backend_pid() AS pid"), (rows) => rows[0]!.pid)
      const inside = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // Holds a transaction open, running statements before and after another fiber runs its own.
      const transaction = yield* Effect.fork(PoolSqlClient.transaction(pool, "SELECT pg_backend_pid() AS pid", (rows) =>
        Effect.gen(function*() {
          const own = (rows[0] as { pid: number }).pid
          const first = yield* pid
          yield* Deferred.succeed(inside, undefined)
          yield* Deferred.await(release)
          const forked = yield* Effect.fork(pid).pipe(Effect.flatMap(Fiber.join))
          const after = yield* sql`SELECT pg_backend_pid() AS pid`
          return [[own, first, forked, (after[0] as { pid: number }).pid], undefined] as const
        })))
      yield* Deferred.await(inside)
      // Outside any transaction, while the other fiber holds one: never its client. Several at
      // once, so that the pool hands out other clients than the first.
      const outside = yield* Effect.all([pid, pid, pid], { concurrency: "unbounded" })
      yield* Deferred.succeed(release, undefined)
      const [own, ...inTransaction] = yield* Fiber.join(transaction)
      expect(inTransaction).toEqual([own, own, own])
      for (const other of outside) expect(other).not.toBe(own)
    }))

  it.effect("statements in a transaction, and in fibers forked there, see its uncommitted writes; a failed one rolls back", () =>
    Effect.gen(function*() {
      const pool = yield* PgPool.PgPool
      const sql = yield* PoolSqlClient.make(pool, { spans: false })
      const table = `pool_sql_${globalThis.crypto.randomUUID().replaceAll("-", "")}`
      yield* sql.unsafe(`CREATE TABLE ${table} (n integer)`)
      const count = Effect.map(sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`), (rows) => rows[0]!.n)
      const seen = yield* PoolSqlClient.transaction(pool, `INSERT INTO ${table} VALUES (1)`, () =>
        Effect.map(Effect.all([count, Effect.fork(count).pipe(Effect.flatMap(Fiber.join))]), (inside) => [inside, undefined] as const))
      expect(seen).toEqual([1, 1])
      // A transaction that fails rolls back what its statements wrote.
      const failed = yield* Effect.either(PoolSqlClient.transaction(pool, "SELECT 1", () =>
        Effect.zipRight(sql.unsafe(`INSERT INTO ${table} VALUES (2)`), Effect.fail("boom" as const))))
      expect(failed._tag).toBe("Left")
      expect(yield* count).toBe(1)
    }))
})
