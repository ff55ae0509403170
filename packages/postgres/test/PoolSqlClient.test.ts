/**
 * `PoolSqlClient` without spans sends a statement on the connection of the fiber that runs it:
 * inside a transaction, that transaction's client; anywhere else, the pool. Fibers that run at the
 * same time, one inside a transaction and one outside, must each get theirs, and a fiber forked
 * inside the transaction stays in it. With `prepare`, its statements with parameters are prepared
 * once per connection. In a `transaction`, writes go out without waiting for their answers.
 */
import { expect, layer } from "@effect/vitest"
import * as PgPool from "@recount/postgres/PgPool"
import * as PoolSqlClient from "@recount/postgres/PoolSqlClient"
import * as TestDatabase from "@recount/testing/TestDatabase"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import Pg from "pg"

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

  // One connection, so that every statement, and the look at what it prepared, share a session.
  const onePool = Effect.flatMap(TestDatabase.TestDatabaseUrl, (url) =>
    Effect.acquireRelease(Effect.sync(() => new Pg.Pool({ connectionString: url, max: 1 })), (pool) => Effect.promise(() => pool.end())))

  it.scoped("with prepare, statements with parameters are prepared once per connection and run by name", () =>
    Effect.gen(function*() {
      const pool = yield* onePool
      const prepared = yield* PoolSqlClient.make(pool, { spans: false, prepare: true })
      const plain = yield* PoolSqlClient.make(pool, { spans: false })
      const statements = Effect.map(
        plain.unsafe<{ statement: string }>("SELECT statement FROM pg_prepared_statements"),
        (rows) => rows.map((row) => row.statement).sort()
      )
      const text = `SELECT $1::int + 1 AS n -- ${globalThis.crypto.randomUUID()}`
      expect(yield* prepared.unsafe(text, [1])).toEqual([{ n: 2 }])
      expect(yield* prepared.unsafe(text, [41])).toEqual([{ n: 42 }])
      expect(yield* statements).toEqual([text])
      // Not prepared: without parameters, or by a client without `prepare`.
      expect(yield* prepared.unsafe("SELECT 3 AS n")).toEqual([{ n: 3 }])
      expect(yield* plain.unsafe("SELECT $1::int + 2 AS n", [1])).toEqual([{ n: 3 }])
      expect(yield* statements).toEqual([text])
      // A statement built from a template compiles to a text with parameters: prepared too.
      expect(yield* prepared`SELECT ${5}::int + 4 AS n`).toEqual([{ n: 9 }])
      expect(yield* statements).toEqual([text, "SELECT $1::int + 4 AS n"])
    }))

  it.scoped("a prepared statement whose rows changed shape fails once, then is prepared again", () =>
    Effect.gen(function*() {
      const pool = yield* onePool
      const prepared = yield* PoolSqlClient.make(pool, { spans: false, prepare: true })
      const table = `pool_sql_${globalThis.crypto.randomUUID().replaceAll("-", "")}`
      yield* prepared.unsafe(`CREATE TABLE ${table} (a integer)`)
      yield* prepared.unsafe(`INSERT INTO ${table} VALUES (1)`)
      const select = prepared.unsafe(`SELECT * FROM ${table} WHERE a = $1`, [1])
      expect(yield* select).toEqual([{ a: 1 }])
      yield* prepared.unsafe(`ALTER TABLE ${table} ADD COLUMN b text DEFAULT 'x'`)
      // PostgreSQL refuses the statement it prepared for the old shape...
      const refused = yield* Effect.flip(select)
      expect(String((refused.cause as Error).message)).toContain("cached plan must not change result type")
      // ...and the next run prepares it anew.
      expect(yield* select).toEqual([{ a: 1, b: "x" }])
      expect(yield* select).toEqual([{ a: 1, b: "x" }])
    }))

  const freshTable = (sql: SqlClient.SqlClient) =>
    Effect.gen(function*() {
      const table = `pool_sql_${globalThis.crypto.randomUUID().replaceAll("-", "")}`
      yield* sql.unsafe(`CREATE TABLE ${table} (id integer PRIMARY KEY, n integer NOT NULL CHECK (n < 10))`)
      const ids = Effect.map(sql.unsafe<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`), (rows) => rows.map((row) => row.id))
      const insert = (id: number, n: number) => sql.unsafe(`INSERT INTO ${table} VALUES ($1, $2)`, [id, n])
      return { table, ids, insert }
    })

  it.scoped("a transaction's writes go out without waiting for their answers; a read waits for them and sees them", () =>
    Effect.gen(function*() {
      const pool = yield* PgPool.PgPool
      const sql = yield* PoolSqlClient.make(pool, { spans: false, prepare: true })
      const { table, insert } = yield* freshTable(sql)
      yield* insert(1, 0)
      // Another session holds the row, so that the database holds an UPDATE of it until that
      // session ends; it ends only after the UPDATE has answered. Had the UPDATE waited for the
      // database, it would never answer.
      const locker = yield* Effect.acquireRelease(Effect.promise(() => pool.connect()), (client) => Effect.sync(() => client.release(true)))
      yield* Effect.promise(() => locker.query(`BEGIN; SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`))
      const seen = yield* PoolSqlClient.transaction(pool, "SELECT 1", () =>
        Effect.gen(function*() {
          yield* sql.unsafe(`UPDATE ${table} SET n = n + 1 WHERE id = $1`, [1]).pipe(
            Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error("the write waited for its answer") })
          )
          yield* Effect.promise(() => locker.query("COMMIT"))
          const rows = yield* sql.unsafe<{ n: number }>(`SELECT n FROM ${table} WHERE id = $1`, [1])
          return [rows[0]!.n, undefined] as const
        }))
      expect(seen).toBe(1)
    }))

  it.effect("a refused write fails what waits after it, and its transaction, with its own error; nothing is committed", () =>
    Effect.gen(function*() {
      const pool = yield* PgPool.PgPool
      const sql = yield* PoolSqlClient.make(pool, { spans: false, prepare: true })
      const { ids, insert } = yield* freshTable(sql)
      const refusal = "violates check constraint"
      const reason = (error: SqlError) => String((error.cause as Error).message)
      // A read after it, and `settled`, fail with the refused write's error, not with "the
      // transaction is aborted"; so does the transaction, though its body caught both.
      let inside: ReadonlyArray<string> = []
      const failed = yield* Effect.flip(PoolSqlClient.transaction(pool, "SELECT 1", () =>
        Effect.gen(function*() {
          yield* insert(1, 1)
          yield* insert(2, 99)
          yield* insert(3, 3)
          const read = yield* Effect.flip(ids)
          const settled = yield* Effect.flip(PoolSqlClient.settled)
          inside = [reason(read), reason(settled)]
          return [undefined, undefined] as const
        })))
      expect(inside).toEqual([expect.stringContaining(refusal), expect.stringContaining(refusal)])
      expect(reason(failed as SqlError)).toContain(refusal)
      // The refused write as the transaction's last statement: a bare COMMIT would end the
      // transaction as a rollback without an error; the transaction fails all the same.
      const last = yield* Effect.flip(PoolSqlClient.transaction(pool, "SELECT 1", () =>
        Effect.as(Effect.zipRight(insert(4, 4), insert(5, 99)), [undefined, undefined] as const)))
      expect(reason(last as SqlError)).toContain(refusal)
      // The same with the checkpoint-like statement that rides with the COMMIT.
      const withLast = yield* Effect.flip(PoolSqlClient.transaction(pool, "SELECT 1", () =>
        Effect.as(insert(6, 99), [undefined, "SELECT 1"] as const)))
      expect(reason(withLast as SqlError)).toContain(refusal)
      expect(yield* ids).toEqual([])
      // Writes that all succeed: `settled` succeeds, and they are committed.
      yield* PoolSqlClient.transaction(pool, "SELECT 1", () =>
        Effect.as(Effect.zipRight(Effect.zipRight(insert(8, 8), insert(9, 9)), PoolSqlClient.settled), [undefined, undefined] as const))
      expect(yield* ids).toEqual([8, 9])
    }))

  it.effect("a write in a savepoint waits for its answer: a caught refusal rolls back to it and the rest commits", () =>
    Effect.gen(function*() {
      const pool = yield* PgPool.PgPool
      const sql = yield* PoolSqlClient.make(pool, { spans: false, prepare: true })
      const { ids, insert } = yield* freshTable(sql)
      const refused = yield* PoolSqlClient.transaction(pool, "SELECT 1", () =>
        Effect.gen(function*() {
          yield* insert(1, 1)
          const error = yield* Effect.flip(sql.withTransaction(insert(2, 99)))
          yield* insert(3, 3)
          return [String((error.cause as Error).message), undefined] as const
        }))
      expect(refused).toContain("violates check constraint")
      expect(yield* ids).toEqual([1, 3])
    }))

  it.scoped("a transaction's client goes back to the pool out of pipeline mode, after success and after failure", () =>
    Effect.gen(function*() {
      const pool = yield* onePool
      const sql = yield* PoolSqlClient.make(pool, { spans: false })
      const { insert } = yield* freshTable(sql)
      const pipelineMode = Effect.promise(async () => {
        const client = await pool.connect()
        client.release()
        return client.pipeline
      })
      yield* PoolSqlClient.transaction(pool, "SELECT 1", () => Effect.as(insert(1, 1), [undefined, undefined] as const))
      expect(yield* pipelineMode).toBe(false)
      yield* Effect.flip(PoolSqlClient.transaction(pool, "SELECT 1", () => Effect.as(insert(2, 99), [undefined, undefined] as const)))
      expect(yield* pipelineMode).toBe(false)
    }))
})
