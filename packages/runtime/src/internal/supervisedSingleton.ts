/**
 * A cluster `Singleton` whose effect starts again when it ends by itself.
 *
 * The cluster starts a singleton when its runner acquires the singleton's shard and stops it when
 * the shard goes; an effect that ends on its own (a defect, or an interruption that reached it as
 * a failure, such as one carried back in a reply) is never started again until the shard moves.
 * Seen: projection runners that stopped for good, their lease released and no runner taking it.
 */
import { Singleton } from "@effect/cluster"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** The pause before a singleton that ended starts again. */
const restartPause = Duration.seconds(1)

/**
 * `Singleton.make(name, run)`, with `run` started again whenever it ends without the singleton
 * being stopped (a stopped singleton's fiber is interrupted, which skips the restart).
 */
export const make = <E, R>(name: string, run: Effect.Effect<unknown, E, R>) =>
  Singleton.make(
    name,
    Effect.forever(Effect.scoped(run).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning(`singleton ${name} ended; starting it again`, cause)),
      Effect.zipRight(Effect.sleep(restartPause))
    ))
  )
