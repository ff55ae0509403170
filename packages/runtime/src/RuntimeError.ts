/**
 * The typed errors of command dispatch and projections, besides the aggregates' own domain errors.
 * They are defined in `@recount/core/DispatchError`, so that clients can decode them without the
 * runtime.
 *
 * @since 0.1.0
 */
export * from "@recount/core/DispatchError"
