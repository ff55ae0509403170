/**
 * Named checkpoints in the global log, one per reader (a projection, a workflow trigger).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Checkpoint } from "./Checkpoint.js"
import { InvalidArgument, type StoreUnavailable } from "./EventStoreError.js"
import * as Prepare from "./internal/prepare.js"

/**
 * @since 0.1.0
 */
export interface CheckpointStoreService {
  readonly load: (name: string) => Effect.Effect<Option.Option<Checkpoint>, InvalidArgument | StoreUnavailable>
  /**
   * Stores a checkpoint. On PostgreSQL it joins the caller's transaction, so a reader can commit
   * its writes and its checkpoint together.
   */
  readonly save: (name: string, checkpoint: Checkpoint) => Effect.Effect<void, InvalidArgument | StoreUnavailable>
}

/** @since 0.1.0 */
export class CheckpointStore extends Context.Tag("@recount/core/CheckpointStore")<CheckpointStore, CheckpointStoreService>() {}

/** Checks a checkpoint name: non-empty, at most 256 printable characters. */
export const validateName = (name: string): Effect.Effect<string, InvalidArgument> => {
  const problem = Prepare.checkName(name, Prepare.maxIdLength)
  return problem ? Effect.fail(new InvalidArgument({ argument: "checkpoint name", reason: problem })) : Effect.succeed(name)
}

/**
 * Checkpoints in memory.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<CheckpointStore> = Layer.sync(CheckpointStore, () => {
  const checkpoints = new Map<string, Checkpoint>()
  return {
    load: (name) => Effect.map(validateName(name), (n) => Option.fromNullable(checkpoints.get(n))),
    save: (name, checkpoint) => Effect.map(validateName(name), (n) => void checkpoints.set(n, checkpoint))
  }
})
