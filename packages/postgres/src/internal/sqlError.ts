import type { SqlError } from "@effect/sql/SqlError"
import { StoreUnavailable } from "@recount/core/EventStoreError"

/** The SQLSTATE of a failed statement, when the driver reported one. */
export const sqlState = (error: SqlError): string | undefined => {
  const cause = error.cause as { readonly code?: unknown } | undefined
  return typeof cause?.code === "string" ? cause.code : undefined
}

export const unavailable = (operation: string) => (error: SqlError): StoreUnavailable => {
  const cause = error.cause as { readonly message?: unknown } | undefined
  const detail = typeof cause?.message === "string" ? cause.message : error.message
  return new StoreUnavailable({ operation, detail })
}
