import * as Effect from "effect/Effect"
import Pg from "pg"

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
