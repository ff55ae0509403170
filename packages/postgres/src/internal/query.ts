import * as Effect from "effect/Effect"
import type Pg from "pg"

/** A failed statement, with the SQLSTATE when the server sent one. */
export class QueryError {
  readonly _tag = "QueryError"
  constructor(readonly code: string | undefined, readonly message: string) {}
}

/** One statement straight on the pool: no span, no scope, one callback. */
export const query = <A>(pool: Pg.Pool, text: string, values: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<A>, QueryError> =>
  Effect.async<ReadonlyArray<A>, QueryError>((resume) => {
    pool.query(text, values as Array<unknown>, (error: (Error & { code?: string }) | undefined, result: Pg.QueryResult | undefined) => {
      if (error) resume(Effect.fail(new QueryError(error.code, error.message)))
      else resume(Effect.succeed((result?.rows ?? []) as ReadonlyArray<A>))
    })
  })
