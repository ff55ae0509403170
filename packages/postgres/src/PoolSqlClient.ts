/**
 * An `@effect/sql` client straight on Recount's `pg` pool, for hot paths that hand a `SqlClient` to
 * user code (a projection's handler runs once per event inside its batch's transaction).
 *
 * It is `SqlClient.make` over connections of the pool: the same statement builder, compiler,
 * transactions and savepoints. What differs is how a statement runs when spans are off. The
 * library's `Statement` opens a span, a `Scope` and reads fiber refs for every execution, which was
 * measured here at 15 to 30 µs of CPU per statement, several times what `pg` itself spends; with
 * `spans: false`, a statement built by this client compiles and goes to its connection in one step
 * (2 to 3 µs). A statement transformer (`Statement.withTransformer`) or a transaction of another
 * client in context sends it the library's way.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type Pg from "pg"
import { submit } from "./internal/query.js"
import * as StatementNames from "./internal/statementNames.js"

type Rows = ReadonlyArray<any>
type TransformRows = (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined

const failed = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })

/** The rows of a result; a multi-statement query gives one array per statement, as `PgClient` does. */
const rowsOf = (result: Pg.QueryResult | ReadonlyArray<Pg.QueryResult>): Rows =>
  Array.isArray(result) ? result.map((r: Pg.QueryResult) => r.rows ?? []) : (result as Pg.QueryResult).rows ?? []

/** A connection: the pool (each statement on any free client) or one client held for a transaction. */
class PoolConnection implements Connection {
  constructor(readonly target: Pg.Pool | Pg.PoolClient) {}

  /** The error a failed statement reports. */
  protected failure(error: Error): SqlError {
    return failed(error)
  }

  private send<A>(query: string | Pg.QueryArrayConfig, params: ReadonlyArray<unknown>, map: (result: Pg.QueryResult) => A): Effect.Effect<A, SqlError> {
    const target = this.target
    return Effect.async<A, SqlError>((resume) => {
      target.query(query as string, params as Array<unknown>, (error: Error | undefined, result: Pg.QueryResult) => {
        if (error) resume(Effect.fail(this.failure(error)))
        else resume(Effect.succeed(map(result)))
      })
    })
  }

  execute(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) {
    return this.send(sql, params, (result) => transformRows ? transformRows(rowsOf(result)) : rowsOf(result))
  }
  /** `execute` of one statement, prepared once per connection under the name `names` gives its text (if any). */
  executePrepared(sql: string, params: ReadonlyArray<unknown>, names: StatementNames.StatementNames): Effect.Effect<Rows, SqlError> {
    return Effect.async<Rows, SqlError>((resume) => {
      submit<unknown>(this.target, sql, params, names.nameOf(sql), (error, result) => {
        if (error) {
          // PostgreSQL refuses a prepared statement whose rows changed shape since it was prepared
          // (a column added to a table it reads with `*`): the next run prepares it anew.
          if (error.code === "0A000") names.renew(sql)
          resume(Effect.fail(this.failure(error)))
        } else resume(Effect.succeed(result?.rows ?? []))
      })
    })
  }
  executeRaw(sql: string, params: ReadonlyArray<unknown>) {
    return this.send<unknown>(sql, params, (result) => result)
  }
  executeValues(sql: string, params: ReadonlyArray<unknown>) {
    return this.send<ReadonlyArray<ReadonlyArray<unknown>>>({ text: sql, rowMode: "array" } satisfies Pg.QueryArrayConfig, params, (result) => result.rows)
  }
  executeUnprepared(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) {
    return this.execute(sql, params, transformRows)
  }
  /** The rows are read whole, then streamed: no cursor (use `PgClient` to stream a large result). */
  executeStream(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) {
    return Stream.flatMap(Stream.fromEffect(this.execute(sql, params, transformRows)), Stream.fromIterable)
  }
}

const noRows: Effect.Effect<Rows> = Effect.succeed(Object.freeze([]))

/**
 * The client of a `transaction`, in `pg`'s pipeline mode: a write that returns no rows goes out
 * without waiting for the answer to the one before (see `transaction`).
 */
class PipelinedConnection extends PoolConnection {
  /** The first write that failed unwaited for: the transaction is aborted from there on. */
  deferredFailure: SqlError | undefined = undefined
  private corked = false
  /** Writes sent and not yet answered, and who waits for them all to be. */
  private unanswered = 0
  private waiting: Array<() => void> = []
  private readonly onAnswer = (error: Error | null | undefined) => {
    if (error && this.deferredFailure === undefined) this.deferredFailure = failed(error)
    if (--this.unanswered === 0 && this.waiting.length > 0) {
      const waiting = this.waiting
      this.waiting = []
      for (const wake of waiting) wake()
    }
  }

  /** Waits for the answers of the writes sent so far; fails with the first that failed. */
  readonly settled: Effect.Effect<void, SqlError> = Effect.suspend(() => {
    if (this.unanswered === 0) return this.deferredFailure === undefined ? Effect.void : Effect.fail(this.deferredFailure)
    return Effect.async<void, SqlError>((resume) => {
      this.waiting.push(() => resume(this.deferredFailure === undefined ? Effect.void : Effect.fail(this.deferredFailure)))
    })
  })

  constructor(readonly client: Pg.PoolClient) {
    super(client)
  }

  // Once a write failed, what fails after it fails because the transaction is aborted: the
  // write's own error is the one worth reporting.
  protected override failure(error: Error): SqlError {
    return this.deferredFailure ?? failed(error)
  }

  /** Sends a write and answers at once with its rows (none); a failure surfaces at the next wait. */
  executeDeferred(sql: string, params: ReadonlyArray<unknown>, names: StatementNames.StatementNames | undefined): Effect.Effect<Rows, SqlError> {
    if (this.deferredFailure !== undefined) return Effect.fail(this.deferredFailure)
    // The writes of one turn of the event loop leave in one system call, not one each.
    if (!this.corked) {
      this.corked = true
      const socket = this.client.connection.stream
      socket.cork()
      process.nextTick(() => {
        this.corked = false
        socket.uncork()
      })
    }
    this.unanswered++
    submit<unknown>(this.client, sql, params, names?.nameOf(sql), this.onAnswer)
    return noRows
  }
}

/** A statement that writes and returns no rows, so that its answer is only success or failure. */
const writesOnly = (sql: string): boolean => /^\s*(?:insert|update|delete|merge)\s/i.test(sql) && !/\breturning\b/i.test(sql)

/** A client checked out of the pool, with the error its socket raised while held (if any). */
interface Held {
  readonly client: Pg.PoolClient
  /** The client's own pipeline mode, which `transaction` changes while it holds it. */
  readonly pipeline: boolean
  broken: Error | undefined
  readonly onError: (e: Error) => void
}

/** Checks a client out of the pool. */
const checkOut = (pool: Pg.Pool): Effect.Effect<Held, SqlError> =>
  Effect.async<Held, SqlError>((resume) => {
    pool.connect((error, client) => {
      if (error || !client) {
        resume(Effect.fail(new SqlError({ cause: error, message: "Failed to acquire connection for transaction" })))
        return
      }
      // A checked-out client that loses its server emits "error"; unheard, it would end the process.
      const held: Held = { client, pipeline: (client as { pipeline?: boolean }).pipeline === true, broken: undefined, onError: (e: Error) => held.broken = e }
      client.on("error", held.onError)
      resume(Effect.succeed(held))
    })
  })

/** Gives a client back to the pool, which destroys it if it broke. */
const checkIn = (held: Held): Effect.Effect<void> =>
  Effect.sync(() => {
    held.client.off("error", held.onError)
    held.client.release(held.broken)
  })

/** A client of the pool for one transaction, released when its scope closes (destroyed if it broke). */
const reserve = (pool: Pg.Pool): Connection.Acquirer =>
  Effect.map(Effect.acquireRelease(checkOut(pool), checkIn), (held) => new PoolConnection(held.client))

const noParams: ReadonlyArray<unknown> = []

/** The names of statements this module prepares, process-wide (see `StatementNames`). */
const preparedNames = StatementNames.make("recount_sql_", 500)

const runOn = (connection: PoolConnection, depth: number, sql: string, params: ReadonlyArray<unknown>, prepare: boolean) => {
  const names = prepare && params.length > 0 ? preparedNames : undefined
  // A savepoint's statements wait: a handler may catch their failure and roll back to it.
  if (depth === 0 && connection instanceof PipelinedConnection && writesOnly(sql)) return connection.executeDeferred(sql, params, names)
  return names !== undefined ? connection.executePrepared(sql, params, names) : connection.execute(sql, params, undefined)
}

/**
 * Runs a statement built by the client: on the transaction's connection (or the pool) directly,
 * unless something asks for the library's way.
 */
function fastCommit(this: Statement.Statement<unknown>, pool: PoolConnection, prepare: boolean) {
  const statement = this
  return Effect.withFiberRuntime<ReadonlyArray<unknown>, SqlError>((fiber) => {
    const transaction = Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)
    const connection = transaction._tag === "None" ? pool : transaction.value[0]
    const depth = transaction._tag === "None" ? -1 : transaction.value[1]
    if (!(connection instanceof PoolConnection) || fiber.getFiberRef(Statement.currentTransformer)._tag === "Some") {
      return (Object.getPrototypeOf(statement) as { commit: (this: unknown) => Effect.Effect<ReadonlyArray<unknown>, SqlError> }).commit.call(statement)
    }
    // `sql.unsafe(text, params)` compiles to its text and params: a projection's handler sends one
    // per event, and the compiler's pass allocates a few closures and arrays each time.
    const segments = statement.segments
    const only = segments.length === 1 ? segments[0]! : undefined
    if (only !== undefined && only._tag === "Literal") return runOn(connection, depth, only.value, only.params ?? noParams, prepare)
    const [sql, params] = statement.compile()
    return runOn(connection, depth, sql, params, prepare)
  })
}

/** @since 0.1.0 */
export interface Options {
  /** A span per statement and per transaction, as `PgClient` makes; off, statements run directly. */
  readonly spans: boolean
  /**
   * Without spans, statements with parameters are prepared once per connection and run by name
   * after that, as Recount's own hot statements are (see `PgPool.namedStatements`, which should
   * decide it). Default `false`. The first 500 distinct texts of the process are prepared; later
   * ones run unprepared.
   */
  readonly prepare?: boolean | undefined
}

/**
 * A `SqlClient` on the pool. Its `withTransaction` holds one client of the pool, and every
 * statement inside (of this client, or of any `@effect/sql` client, which all follow the
 * transaction in context) runs on that client.
 *
 * @since 0.1.0
 */
export const make = (pool: Pg.Pool, options: Options): Effect.Effect<SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const onPool = new PoolConnection(pool)
    const base = yield* SqlClient.make({
      acquirer: Effect.succeed(onPool),
      transactionAcquirer: reserve(pool),
      compiler: PgClient.makeCompiler(),
      spanAttributes: [["db.system.name", "postgresql"]]
    }).pipe(Effect.provide(Reactivity.layer))
    if (options.spans) return base
    // Statements keep everything of the library's (compile, raw, values, stream...); only running
    // them as an effect is replaced.
    const prepare = options.prepare ?? false
    const commit = function(this: Statement.Statement<unknown>) {
      return fastCommit.call(this, onPool, prepare)
    }
    // The statement was just made for this call and nothing else holds it. (Deriving a new object
    // from it instead would make every statement a prototype, which V8 makes costly.)
    const fast = <A>(made: A): A => {
      if (Effect.isEffect(made) && Statement.isFragment(made)) (made as unknown as { commit: unknown }).commit = commit
      return made
    }
    const client = Object.assign(
      function sql(strings: unknown, ...args: Array<unknown>) {
        return fast((base as unknown as (...a: Array<unknown>) => unknown)(strings, ...args))
      },
      base,
      {
        unsafe: (sql: string, params?: ReadonlyArray<unknown>) => fast(base.unsafe(sql, params))
      }
    ) as unknown as SqlClient.SqlClient
    ;(client as { safe: unknown }).safe = client
    return client
  })

/**
 * A transaction on one client of the pool whose first and last round trips carry the caller's own
 * statements: `first` goes with `BEGIN`, and the statement `body` returns (if any) with `COMMIT`,
 * each as one simple-protocol query (no parameters: callers inline literals they control). A
 * transaction of a few statements around user code thus costs two round trips of its own, not
 * four. `body` gets the rows of `first`; every `@effect/sql` statement inside it runs on the
 * transaction's client (nested `withTransaction` makes savepoints). On failure or interruption it
 * rolls back.
 *
 * Writes are pipelined: a statement of this module's client (without spans) that writes and
 * returns no rows (`INSERT`, `UPDATE`, `DELETE`, `MERGE` without `RETURNING`), run at the
 * transaction's top level, is sent without waiting for the answers before it and answers at once.
 * Should it fail, the transaction is aborted: the next statement that waits (at the latest the
 * `COMMIT`) fails with that write's error, and so does the transaction. A projection's handler
 * thus writes a batch's events without a round trip each. Statements in a savepoint, and all that
 * return rows, wait for their answer, which comes after those of every write sent before them.
 *
 * @since 0.1.0
 */
export const transaction = <A, E, R>(
  pool: Pg.Pool,
  first: string,
  body: (rows: Rows) => Effect.Effect<readonly [A, string | undefined], E, R>
): Effect.Effect<A, E | SqlError, R> => {
  const run = (connection: PipelinedConnection) =>
    Effect.uninterruptibleMask((restore) =>
      connection.execute(`BEGIN; ${first}`, [], undefined).pipe(
        Effect.flatMap((results) =>
          restore(Effect.provideService(body(results[1] as Rows), SqlClient.TransactionConnection, [connection, 0] as const))
        ),
        Effect.flatMap(([value, last]) => Effect.as(connection.execute(last === undefined ? "COMMIT" : `${last}; COMMIT`, [], undefined), value)),
        // A `COMMIT` after a failed write ends the transaction as a rollback, and without an error.
        Effect.tap(() => connection.deferredFailure === undefined ? Effect.void : Effect.fail(connection.deferredFailure)),
        // A failed statement left the transaction aborted (or it never began): roll back. A client
        // that lost its server fails that too, and its release destroys it.
        Effect.onError(() => Effect.ignore(connection.execute("ROLLBACK", [], undefined)))
      )
    )
  // The client is held for the transaction alone, so no scope of `body`'s ends with it; it is
  // checked out and in directly, without a scope of its own per batch. Every statement of the
  // transaction has been answered before it is checked in (the last one waits for all before it),
  // so the client goes back to the pool in the mode it came in.
  return Effect.acquireUseRelease(
    checkOut(pool),
    (held) => run(new PipelinedConnection(setPipeline(held.client, true))),
    (held) => Effect.zipRight(Effect.sync(() => setPipeline(held.client, held.pipeline)), checkIn(held))
  )
}

/**
 * Waits until the writes that the current `transaction` sent without waiting are answered, and
 * fails with the first that failed: what a caller runs after user code, to tell that code's
 * failures from its own. Outside such a transaction it does nothing.
 *
 * @since 0.1.0
 */
export const settled: Effect.Effect<void, SqlError> = Effect.flatMap(
  Effect.serviceOption(SqlClient.TransactionConnection),
  (transaction) => transaction._tag === "Some" && transaction.value[0] instanceof PipelinedConnection ? transaction.value[0].settled : Effect.void
)

/** `pg`'s pipeline mode on a client: read on every query, so it can change between queries. */
const setPipeline = (client: Pg.PoolClient, on: boolean): Pg.PoolClient => {
  ;(client as { pipeline: boolean }).pipeline = on
  return client
}

/** A string as an SQL literal (standard_conforming_strings, PostgreSQL's default since 9.1). */
export const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`
