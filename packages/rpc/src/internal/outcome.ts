/**
 * One command's outcome in a batch, as plain data: what `DispatchBatch` carries (the wire form of
 * `Schema.Either`, without building an `Either` on either end).
 */
export type Outcome<A, E> =
  | { readonly _tag: "Right"; readonly right: A }
  | { readonly _tag: "Left"; readonly left: E }
