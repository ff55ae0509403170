/**
 * Names for statements prepared once per connection, by their text.
 *
 * `pg` keeps, per connection, the text each name was prepared with and refuses a name reused for
 * another text, so a name must stand for one text in the whole process: the names live here, not
 * per client. Texts are named first come, first served up to `limit`; later ones run unprepared,
 * so code that builds a new text per call (values inlined) cannot grow every connection's
 * prepared statements without bound.
 */
export interface StatementNames {
  /** The name `text` is prepared under, or `undefined` when it is to run unprepared. */
  readonly nameOf: (text: string) => string | undefined
  /**
   * Gives `text` a new name: its statement must be prepared again (PostgreSQL refused the old one
   * because a table it reads changed the shape of its rows).
   */
  readonly renew: (text: string) => void
}

/** @internal */
export const make = (prefix: string, limit: number): StatementNames => {
  const names = new Map<string, string>()
  let next = 0
  return {
    nameOf: (text) => {
      const known = names.get(text)
      if (known !== undefined || names.size >= limit) return known
      const name = `${prefix}${next++}`
      names.set(text, name)
      return name
    },
    renew: (text) => {
      if (names.has(text)) names.set(text, `${prefix}${next++}`)
    }
  }
}
