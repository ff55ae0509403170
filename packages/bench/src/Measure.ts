/**
 * Throughput of two implementations of the same workload, measured in alternating rounds so that
 * machine noise (a checkpoint, autovacuum, a neighbour) lands on both sides alike.
 *
 * @since 0.1.0
 */

/**
 * What one round did: `units` of work, done between the round's start and `until`.
 *
 * @since 0.1.0
 */
export interface Work {
  readonly units: number
  readonly until: number
}

/**
 * One implementation of a workload.
 *
 * @since 0.1.0
 */
export interface Side {
  /**
   * Works until `deadline` (a `performance.now()` time). Concurrent writers count only what they
   * finished by the deadline (`until` is the deadline), so a round is not charged for waiting on
   * the slowest writer's last operation; a sequential reader finishes its pass and counts it
   * (`until` is when it finished).
   */
  readonly run: (deadline: number) => Promise<Work>
}

/**
 * @since 0.1.0
 */
export interface Options {
  readonly rounds: number
  readonly roundMillis: number
  /** Per side, before the rounds: fills pools and lets the JIT settle, unrecorded. */
  readonly warmupMillis: number
}

/**
 * Units per second for each side: the median of its rounds, so one round that met a checkpoint
 * or a collector pause does not decide the row. Each round's rate is kept to judge the noise.
 *
 * @since 0.1.0
 */
export interface Outcome {
  readonly recount: number
  readonly baseline: number
  readonly recountRounds: ReadonlyArray<number>
  readonly baselineRounds: ReadonlyArray<number>
  /**
   * This process's CPU time per unit (microseconds): the client-side cost, which on a small box
   * also competes with the database for cores.
   */
  readonly recountCpuMicros: number
  readonly baselineCpuMicros: number
}

interface Sample {
  readonly units: number
  readonly seconds: number
  readonly cpuMicros: number
}

const sample = async (side: Side, millis: number): Promise<Sample> => {
  const cpu = process.cpuUsage()
  const start = performance.now()
  const work = await side.run(start + millis)
  const used = process.cpuUsage(cpu)
  return { units: work.units, seconds: (work.until - start) / 1000, cpuMicros: used.user + used.system }
}

const rate = (s: Sample): number => s.units / s.seconds

const median = (ns: ReadonlyArray<number>): number => {
  const sorted = [...ns].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const cpuPerUnit = (samples: ReadonlyArray<Sample>): number =>
  samples.reduce((n, s) => n + s.cpuMicros, 0) / samples.reduce((t, s) => t + s.units, 0)

/**
 * Runs both sides unrecorded, e.g. so the JIT has compiled both paths before anything counts.
 *
 * @since 0.1.0
 */
export const warmUp = async (recount: Side, baseline: Side, millis: number): Promise<void> => {
  await sample(recount, millis)
  await sample(baseline, millis)
}

/**
 * Runs the warm-up, then the rounds in ABBA order (recount first in even rounds, baseline first in
 * odd ones) so neither side always runs on the warmer or the more bloated table.
 *
 * @since 0.1.0
 */
export const compare = async (recount: Side, baseline: Side, options: Options): Promise<Outcome> => {
  await warmUp(recount, baseline, options.warmupMillis)
  const r: Array<Sample> = []
  const b: Array<Sample> = []
  for (let round = 0; round < options.rounds; round++) {
    if (round % 2 === 0) {
      r.push(await sample(recount, options.roundMillis))
      b.push(await sample(baseline, options.roundMillis))
    } else {
      b.push(await sample(baseline, options.roundMillis))
      r.push(await sample(recount, options.roundMillis))
    }
  }
  return {
    recount: median(r.map(rate)),
    baseline: median(b.map(rate)),
    recountRounds: r.map(rate),
    baselineRounds: b.map(rate),
    recountCpuMicros: cpuPerUnit(r),
    baselineCpuMicros: cpuPerUnit(b)
  }
}

/**
 * The `q` quantile of samples (nearest rank); NaN when there are none.
 *
 * @since 0.1.0
 */
export const percentile = (samples: ReadonlyArray<number>, q: number): number => {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
}
