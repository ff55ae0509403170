/**
 * Building blocks for `EventStore` implementations, so every backend validates input and follows
 * the log the same way. Application code does not need this module.
 *
 * @since 0.1.0
 */
export { follow, subscription } from "./internal/follow.js"
export { jsonEqual } from "./internal/jsonEqual.js"
export {
  checkName,
  maxIdLength,
  maxTenantLength,
  positiveInt,
  prepareAppend,
  readStreamRange,
  resolveStream,
  type PreparedAppend,
  type PreparedEvent,
  tenant as resolveTenant
} from "./internal/prepare.js"
export { make as makeWakeup, type Wakeup } from "./internal/wakeup.js"
