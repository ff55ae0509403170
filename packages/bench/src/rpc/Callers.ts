/**
 * How many commands per second a round of closed-loop callers did.
 *
 * Counting what finished by the deadline and dividing by the round's length drops each caller's
 * command in flight at the deadline: about half a round trip per caller and round. At 32 callers
 * and round trips of 100 ms, that is a fifth of a 500 ms round, charged mostly to the side with
 * the longer round trips, which is exactly the side under comparison here. Instead each caller's
 * rate is its commands over the time to its last reply (the inverse of its mean round trip), and
 * the round's rate is their sum.
 *
 * @since 0.1.0
 */

/** One caller's round: commands finished by the deadline, and when the last of them finished. */
export interface Caller {
  done: number
  lastEnd: number
}

/** @since 0.1.0 */
export const caller = (start: number): Caller => ({ done: 0, lastEnd: start })

/**
 * The commands of the round and the length of time (ms) in which they would have been done at
 * the callers' combined rate, so that `units / millis` is that rate.
 *
 * @since 0.1.0
 */
export const tally = (start: number, roundMillis: number, callers: ReadonlyArray<Caller>): { readonly units: number; readonly millis: number } => {
  let units = 0
  let perMilli = 0
  for (const c of callers) {
    if (c.done === 0) continue
    units += c.done
    perMilli += c.done / (c.lastEnd - start)
  }
  return { units, millis: units === 0 ? roundMillis : units / perMilli }
}
