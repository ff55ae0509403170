/**
 * Ids that no other test of the run uses, so suites sharing a database never meet.
 *
 * @since 0.1.0
 */
let counter = 0

/**
 * `prefix` followed by the time and a counter, in base 36.
 *
 * @since 0.1.0
 */
export const fresh = (prefix: string): string => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`
