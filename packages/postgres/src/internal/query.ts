import * as Effect from "effect/Effect"
import Pg from "pg"

/** A failed statement, with the SQLSTATE when the server sent one. */
export class QueryError {
  readonly _tag = "QueryError"
  constructor(readonly code: string | undefined, readonly message: string) {}
}

/**
 * A statement prepared once per connection under `name`, built from its text so that the driver
 * takes it as it is: given a config object with a name, the driver copies it property by property
 * on every call (measured: about as much CPU as an append's own code).
 */
const named = (text: string, name: string, values: ReadonlyArray<unknown>): Pg.Query => {
  const query = new Pg.Query(text, values as Array<unknown>)
  ;(query as Pg.Query & { name: string }).name = name
  return query
}

/** The pool's `query` as the driver takes it: a text with its values, or a query object without. */
interface Queryable<R> {
  query(
    statement: string | Pg.Query,
    values: ReadonlyArray<unknown> | undefined,
    callback: (error: (Error & { readonly code?: string | undefined }) | undefined, result: { readonly rows: ReadonlyArray<R> } | undefined) => void
  ): void
}

/**
 * Sends a statement on a pool or a client: its text with its values, or, given a `name`, prepared
 * once per connection under it (a named query carries its values; the driver is then passed
 * `undefined` as the values).
 */
export const submit = <R>(
  target: Pg.Pool | Pg.PoolClient,
  text: string,
  values: ReadonlyArray<unknown>,
  name: string | undefined,
  callback: Parameters<Queryable<R>["query"]>[2]
): void =>
  (target as unknown as Queryable<R>).query(
    name === undefined ? text : named(text, name, values),
    name === undefined ? values : undefined,
    callback
  )

/** One statement straight on the pool: no span, no scope, one callback. */
export const query = <A>(
  pool: Pg.Pool,
  text: string,
  values: ReadonlyArray<unknown>,
  /** Prepares the statement once per connection under this name (see `PgPool.namedStatements`). */
  name?: string
): Effect.Effect<ReadonlyArray<A>, QueryError> =>
  Effect.async<ReadonlyArray<A>, QueryError>((resume) => {
    submit<A>(pool, text, values, name, (error, result) => {
      if (error) resume(Effect.fail(new QueryError(error.code, error.message)))
      else resume(Effect.succeed(result?.rows ?? []))
    })
  })

const asText = (value: string): string => value
/** `int8` values as their text; every other type as `pg` parses it (its own or a registered parser). */
const int8AsText = (oid: number, format?: string): unknown => oid === 20 ? asText : Pg.types.getTypeParser(oid, format as "text")
const valueTypes = { getTypeParser: int8AsText } as unknown as Pg.CustomTypesConfig

/**
 * `query` with each row as the array of its values in the statement's column order (`pg`'s array
 * mode): for reads of many rows that the caller turns into objects of its own anyway.
 *
 * `int8` values come as their text whatever parser the process registered for the type, which is
 * also what `pg`'s own parser returns; it got there by a regular expression test per value, which
 * cost about 100 bytes of garbage and 0.1 µs per value here (an event read has two).
 */
export const queryValues = (
  pool: Pg.Pool,
  text: string,
  values: ReadonlyArray<unknown>,
  /** Prepares the statement once per connection under this name (see `PgPool.namedStatements`). */
  name?: string
): Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, QueryError> =>
  Effect.async<ReadonlyArray<ReadonlyArray<unknown>>, QueryError>((resume) => {
    pool.query({ name, text, values: values as Array<unknown>, rowMode: "array", types: valueTypes }, (error: (Error & { code?: string }) | undefined, result: Pg.QueryArrayResult | undefined) => {
      if (error) resume(Effect.fail(new QueryError(error.code, error.message)))
      else resume(Effect.succeed(result?.rows ?? []))
    })
  })
