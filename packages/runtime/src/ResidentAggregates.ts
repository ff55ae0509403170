/**
 * Caps how many aggregate states one node keeps in memory. Past the cap, the least recently used
 * instance drops its state and reloads it from the store on its next command; the cluster's own
 * idle timeout still passivates idle instances entirely.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RecountMetrics from "./RecountMetrics.js"
import { RuntimeConfig } from "./RuntimeConfig.js"

/** @since 0.1.0 */
export interface ResidentAggregatesService {
  /** Marks an instance as just used; may evict the least recently used one. */
  readonly touch: (key: string, evict: () => void) => void
  readonly remove: (key: string) => void
  readonly size: () => number
}

/** @since 0.1.0 */
export class ResidentAggregates extends Context.Tag("@recount/runtime/ResidentAggregates")<ResidentAggregates, ResidentAggregatesService>() {}

/**
 * A least-recently-used registry with the configured cap (`RuntimeConfig.maxResidentAggregates`).
 *
 * @since 0.1.0
 */
export const make = (max: number): ResidentAggregatesService => {
  // A Map iterates in insertion order; re-inserting on use keeps the oldest first.
  const resident = new Map<string, () => void>()
  const gauge = () => RecountMetrics.residentAggregates.unsafeUpdate(resident.size, [])
  return {
    touch: (key, evict) => {
      const known = resident.delete(key)
      resident.set(key, evict)
      while (resident.size > max) {
        const [oldest, dropState] = resident.entries().next().value as [string, () => void]
        resident.delete(oldest)
        dropState()
      }
      if (!known) gauge()
    },
    remove: (key) => {
      if (resident.delete(key)) gauge()
    },
    size: () => resident.size
  }
}

/** @since 0.1.0 */
export const layer: Layer.Layer<ResidentAggregates> = Layer.effect(
  ResidentAggregates,
  Effect.map(RuntimeConfig, (config) => make(config.maxResidentAggregates))
)
