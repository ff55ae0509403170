import * as Effect from "effect/Effect"
import type Pg from "pg"

/** A failed statement, with the SQLSTATE when the server sent one. */
export class QueryError {
  readonly _tag = "QueryError"
  constructor(readonly code: string | undefined, readonly message: string) {}
}

/** One statement straight on the pool: no span, no scope, one callback. */
export const query = <A>(
  pool: Pg.Pool,
  text: string,
  values: ReadonlyArray<unknown>,
  /** Prepares the statement once per connection under this name (see `PgPool.namedStatements`). */
  name?: string
): Effect.Effect<ReadonlyArray<A>, QueryError> =>
  Effect.async<ReadonlyArray<A>, QueryError>((resume) => {
    // A text alone is not copied by the driver; a config object (needed for a name) is.
    pool.query(
      (name === undefined ? text : { name, text }) as string,
      values as Array<unknown>,
      (error: (Error & { code?: string }) | undefined, result: Pg.QueryResult | undefined) => {
        if (error) resume(Effect.fail(new QueryError(error.code, error.message)))
        else resume(Effect.succeed((result?.rows ?? []) as ReadonlyArray<A>))
      }
    )
  })

/**
 * `query` with each row as the array of its values in the statement's column order (`pg`'s array
 * mode): for reads of many rows that the caller turns into objects of its own anyway.
 */
export const queryValues = (
  pool: Pg.Pool,
  text: string,
  values: ReadonlyArray<unknown>,
  /** Prepares the statement once per connection under this name (see `PgPool.namedStatements`). */
  name?: string
): Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, QueryError> =>
  Effect.async<ReadonlyArray<ReadonlyArray<unknown>>, QueryError>((resume) => {
    pool.query({ name, text, values: values as Array<unknown>, rowMode: "array" }, (error: (Error & { code?: string }) | undefined, result: Pg.QueryArrayResult | undefined) => {
      if (error) resume(Effect.fail(new QueryError(error.code, error.message)))
      else resume(Effect.succeed(result?.rows ?? []))
    })
  })
