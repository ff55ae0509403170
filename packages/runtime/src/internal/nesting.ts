/**
 * How deep a value nests, measured without recursion. Effect's decoders and error formatter
 * recurse, so a payload nested a few thousand levels deep overflows the stack before it can be
 * refused; it is refused here first.
 */
export const maxCommandDepth = 64

/** The path to the first place deeper than `limit`, or undefined when the value stays within it. */
export const tooDeep = (value: unknown, limit: number = maxCommandDepth): string | undefined => {
  const stack: Array<{ readonly value: unknown; readonly depth: number; readonly path: string }> = [{ value, depth: 0, path: "" }]
  while (stack.length > 0) {
    const { depth, path, value } = stack.pop()!
    if (typeof value !== "object" || value === null) continue
    if (depth >= limit) return path === "" ? "the root" : path
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value)
    for (const [key, child] of entries) stack.push({ value: child, depth: depth + 1, path: `${path}[${JSON.stringify(key)}]` })
  }
  return undefined
}
