/** Structural equality of two JSON values, ignoring key order (as PostgreSQL's jsonb does). */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const bs = b as Array<unknown>
    return a.length === bs.length && a.every((v, i) => jsonEqual(v, bs[i]))
  }
  const ak = Object.keys(a)
  const bo = b as Record<string, unknown>
  if (ak.length !== Object.keys(bo).length) return false
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && jsonEqual((a as Record<string, unknown>)[k], bo[k]))
}
