/**
 * Workflows that wait out an unavailable message storage (PostgreSQL restarting, a full pool)
 * instead of ending for good or waiting for ever: a workflow engine (`layer`, used by
 * `Workflows.register`) and a message storage (`layerSqlMessageStorage`, for the node's cluster).
 *
 * The engine: `ClusterWorkflowEngine` (@effect/cluster 0.60) journals every activity, durable clock and
 * signal as a persisted message, and turns a failure to store one into a defect:
 * `activityExecute` is `Effect.orDie(client.activity(...))`, `scheduleClock` and `deferredDone`
 * end in `Effect.orDie`, `deferredResult` after three quick retries. A workflow's run captures
 * defects (`Workflow.CaptureDefects` is on by default), so one PostgreSQL crash (or a full pool)
 * at the moment a saga sends its next step is stored as the run's final reply:
 * `Complete(Die(PersistenceError))`. The saga has ended, its order left half done, and nothing
 * runs it again. In a compensation the same defect fails the run's scope closing, and the
 * entity restarts the run ("Defect in entity, restarting").
 *
 * Every one of these calls can simply be made again: an activity or clock message is keyed by
 * its name (and attempt), so a repeated send attaches to the stored message or its reply instead
 * of running the step twice, and a signal's result is a read. Here they are repeated while the
 * cause is a `PersistenceError`, as the cluster itself keeps polling its storage until it
 * answers again. Interruption still ends them (a hand-over, `whileShardHeld`).
 */
import * as Message from "@effect/cluster/Message"
import { MessageStorage } from "@effect/cluster/MessageStorage"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"

/** Quick at first (a pool that frees a connection), then every few seconds (a server restarting). */
const backoff = Schedule.exponential("100 millis", 2).pipe(Schedule.union(Schedule.spaced(Duration.seconds(5))))

/** A storage failure the engine turned into a defect, and nothing else (no interruption, no typed error). */
export const isStorageDefect = (cause: Cause.Cause<unknown>): boolean =>
  !Cause.isInterrupted(cause) &&
  Chunk.isEmpty(Cause.failures(cause)) &&
  Chunk.some(Cause.defects(cause), (defect) => Predicate.isTagged(defect, "PersistenceError"))

/** `effect` made again for as long as it dies of an unavailable storage. */
export const untilStored = <A, E, R>(effect: Effect.Effect<A, E, R>, what: string): Effect.Effect<A, E, R> =>
  Effect.sandbox(effect).pipe(
    Effect.tapError((cause) =>
      isStorageDefect(cause)
        ? Effect.flatMap(Effect.serviceOption(WorkflowInstance), (instance) =>
          Effect.logWarning(`workflow storage unavailable (${what}); trying again`, Cause.squash(cause)).pipe(
            Effect.annotateLogs(Option.match(instance, { onNone: () => ({}), onSome: (i) => ({ workflow: i.workflow.name, executionId: i.executionId }) }))
          ))
        : Effect.void
    ),
    Effect.retry({ while: isStorageDefect, schedule: backoff }),
    Effect.unsandbox
  )

/** The engine with its journal writes and reads made again while storage is unavailable. */
export const wrap = (engine: WorkflowEngine["Type"]): WorkflowEngine["Type"] =>
  WorkflowEngine.of({
    ...engine,
    activityExecute: (activity, attempt) => untilStored(engine.activityExecute(activity, attempt), `activity ${activity.name}`),
    scheduleClock: (workflow, options) => untilStored(engine.scheduleClock(workflow, options), `clock ${options.clock.name}`),
    deferredResult: (deferred) => untilStored(engine.deferredResult(deferred), `signal ${deferred.name}`),
    deferredDone: (deferred, options) => untilStored(engine.deferredDone(deferred, options), `signal ${options.deferredName}`)
  })

/**
 * Replaces the `WorkflowEngine` of whatever it provides: a workflow's layer (`toLayer`) built on
 * it registers its workflow with the wrapped engine, so its body, activities and compensations
 * use it.
 */
export const layer: Layer.Layer<WorkflowEngine, never, WorkflowEngine> = Layer.effect(WorkflowEngine, Effect.map(WorkflowEngine, wrap))

// --- replies ---

/** A reply is saved again for about a minute: past a full pool or a restarting server. */
const replyBackoff = Schedule.exponential("100 millis", 2).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(2))),
  Schedule.upTo(Duration.minutes(1))
)

/** Whether an error (or one it was caused by) is PostgreSQL's unique violation. */
const isUniqueViolation = (error: unknown): boolean => {
  for (let e = error, depth = 0; typeof e === "object" && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === "23505") return true
  }
  return false
}

/** A reply's save, made again while the storage is unavailable (see `wrapMessageStorage`). */
const savedAgain = <E extends { readonly _tag: string }>(save: Effect.Effect<void, E>): Effect.Effect<void, E> =>
  Effect.suspend(() => {
    let failedBefore = false
    return save.pipe(
      // An attempt that failed may still have committed (the connection broke after the commit):
      // the next one then hits the reply's unique key, which means the reply is saved.
      Effect.catchIf((e) => failedBefore && isUniqueViolation(e), () => Effect.void),
      Effect.tapError((e) =>
        Effect.zipRight(
          Effect.sync(() => {
            failedBefore = true
          }),
          e._tag === "PersistenceError" ? Effect.logWarning("reply not saved, storage unavailable; trying again", e) : Effect.void
        )
      ),
      Effect.retry({ while: (e) => e._tag === "PersistenceError", schedule: replyBackoff })
    )
  })

const patientReplies = <M extends Message.Incoming<any>>(message: M): M =>
  message._tag === "IncomingRequest"
    ? new Message.IncomingRequest({
      envelope: message.envelope,
      lastSentReply: message.lastSentReply,
      respond: (reply) => savedAgain(message.respond(reply))
    }) as M
    : message

/**
 * The message storage with a reply's save made again while the storage is unavailable.
 *
 * The cluster's entity manager saves a reply (an activity's result, a workflow run's final
 * result, a persisted command's reply) with four retries 200 ms apart, then dies in a fiber
 * nobody watches (`retryRespond(4, ...)` then `Effect.orDie` in @effect/cluster 0.60
 * `internal/entityManager.ts`): the request stays active on its entity without a reply and is
 * never run again. A saga whose step or final result was saved while the pool was full waited
 * for ever. The entity replies through the `respond` of the message it read from storage, bound
 * to the storage's own `saveReply`, so the messages read are given a patient `respond` here.
 */
export const wrapMessageStorage = (storage: MessageStorage["Type"]): MessageStorage["Type"] =>
  MessageStorage.of({
    ...storage,
    saveReply: (reply) => savedAgain(storage.saveReply(reply)),
    unprocessedMessages: (shardIds) => Effect.map(storage.unprocessedMessages(shardIds), (messages) => messages.map(patientReplies)),
    unprocessedMessagesById: (ids) => Effect.map(storage.unprocessedMessagesById(ids), (messages) => messages.map(patientReplies))
  })

/** Replaces the `MessageStorage` it is given with `wrapMessageStorage` of it. */
export const layerMessageStorage: Layer.Layer<MessageStorage, never, MessageStorage> = Layer.effect(
  MessageStorage,
  Effect.map(MessageStorage, wrapMessageStorage)
)

/** `SqlMessageStorage.layer`, wrapped: what a node's cluster should store its messages with. */
export const layerSqlMessageStorage = layerMessageStorage.pipe(Layer.provide(SqlMessageStorage.layer))
