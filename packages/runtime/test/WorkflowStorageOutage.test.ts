import { MessageStorage, RunnerHealth, Runners, RunnerStorage, Sharding, ShardingConfig, Snowflake } from "@effect/cluster"
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import { PersistenceError } from "@effect/cluster/ClusterError"
import { expect, layer } from "@effect/vitest"
import * as DurableClock from "@effect/workflow/DurableClock"
import type * as Workflow from "@effect/workflow/Workflow"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { CommandBus } from "../src/CommandBus.js"
import * as EventWorkflow from "../src/EventWorkflow.js"
import * as StorageOutage from "../src/internal/storageOutage.js"
import * as Workflows from "../src/Workflows.js"

// A message storage that is down for some journal writes: each write named in `outage` fails
// that many times with a PersistenceError, as SqlMessageStorage does while PostgreSQL restarts or
// the pool is full. Before the engine waited out such failures, the first one ended the workflow
// for good: its run's reply was Complete(Die(PersistenceError)).
const outage = new Map<string, number>()
const keyOf = (message: { readonly envelope: { readonly address: { readonly entityType: string }; readonly tag: string; readonly payload: unknown } }) => {
  const { address, tag, payload } = message.envelope
  const name = typeof payload === "object" && payload !== null && "name" in payload ? String(payload.name) : ""
  return address.entityType === "Workflow/-/DurableClock" ? `clock:${name}` : `${tag}:${name}`
}

const FlakyStorage = Layer.effect(
  MessageStorage.MessageStorage,
  Effect.gen(function*() {
    const driver = yield* MessageStorage.MemoryDriver
    // Replies fail below the storage's own `saveReply`: an entity replies through the `respond`
    // of the message it read, which the storage binds to its inner save.
    const storage = yield* MessageStorage.makeEncoded({
      ...driver.encoded,
      saveReply: (reply) => Effect.zipRight(down("reply"), driver.encoded.saveReply(reply))
    })
    return MessageStorage.MessageStorage.of({
      ...storage,
      saveRequest: (message) => Effect.zipRight(down(keyOf(message)), storage.saveRequest(message))
    })
  })
).pipe(Layer.provide(Snowflake.layerGenerator), Layer.provideMerge(MessageStorage.MemoryDriver.Default))

const down = (key: string) =>
  Effect.suspend(() => {
    const left = outage.get(key) ?? 0
    if (left === 0) return Effect.void
    outage.set(key, left - 1)
    return Effect.fail(new PersistenceError({ cause: new Error(`connect ECONNREFUSED (saving ${key})`) }))
  })

// One runner in memory, polling its storage often (a clock message is found by a poll).
const Cluster = Sharding.layer.pipe(
  Layer.provideMerge(Runners.layerNoop),
  // As a node stores its messages (StorageOutage.layerSqlMessageStorage, over SQL).
  Layer.provideMerge(Layer.provide(StorageOutage.layerMessageStorage, FlakyStorage)),
  Layer.provide([RunnerStorage.layerMemory, RunnerHealth.layerNoop]),
  Layer.provide(ShardingConfig.layer({ entityMessagePollInterval: Duration.millis(200), entityReplyPollInterval: Duration.millis(100) }))
)

const runs = new Map<string, number>()
const count = (name: string) => Effect.sync(() => runs.set(name, (runs.get(name) ?? 0) + 1))
const step = (name: string, value: number) => EventWorkflow.step(name, Schema.Number, Effect.as(count(name), value))

class Refused extends Schema.TaggedError<Refused>()("Refused", {}) {}

/** Two steps. */
const Steps = EventWorkflow.make({ name: "Steps", payload: {}, success: Schema.Number })
const StepsLive = Steps.toLayer(() => Effect.zipWith(step("one", 1), step("two", 2), (a, b) => a + b))

/** A step, then a refusal: the step's compensation runs. */
const Undo = EventWorkflow.make({ name: "Undo", payload: {}, error: Refused })
const UndoLive = Undo.toLayer(() =>
  step("take", 1).pipe(
    Undo.withCompensation(() => Effect.asVoid(step("give-back", 1))),
    Effect.zipRight(new Refused())
  ))

/** A durable timer, then a step. */
const Wait = EventWorkflow.make({ name: "Wait", payload: {}, success: Schema.Number })
const WaitLive = Wait.toLayer(() =>
  Effect.zipRight(DurableClock.sleep({ name: "pause", duration: "1 second", inMemoryThreshold: "0 millis" }), step("after", 3)))

// The workflows as a node registers them; none of them dispatches a command.
const Live = Layer.mergeAll(
  Workflows.register(Steps, StepsLive).layer,
  Workflows.register(Undo, UndoLive).layer,
  Workflows.register(Wait, WaitLive).layer
).pipe(
  Layer.provide(Layer.succeed(CommandBus, {} as CommandBus["Type"])),
  Layer.provideMerge(ClusterWorkflowEngine.layer),
  Layer.provideMerge(Cluster)
)

/** Starts an execution and waits for its final result. */
const finish = <W extends Workflow.Workflow<string, any, any, any>>(workflow: W, triggeringEventId: string) =>
  Effect.gen(function*() {
    const id = yield* workflow.execute({ triggeringEventId }, { discard: true })
    while (true) {
      const result = yield* workflow.poll(id)
      if (result?._tag === "Complete") return result.exit
      yield* Effect.sleep("50 millis")
    }
  }).pipe(Effect.timeout("20 seconds"))

layer(Live, { excludeTestServices: true, timeout: 60_000 })("a workflow while its storage is unavailable", (it) => {
  it.effect("an activity whose journal write fails runs once when storage answers again, and the workflow completes", () =>
    Effect.gen(function*() {
      outage.set("activity:two", 3)
      const exit = yield* finish(Steps, "steps-1")
      expect(exit).toEqual(Exit.succeed(3))
      expect({ one: runs.get("one"), two: runs.get("two"), outage: outage.get("activity:two") }).toEqual({ one: 1, two: 1, outage: 0 })
    }))

  it.effect("the results of a run and its steps that cannot be saved for a few seconds are saved later, and the run ends", () =>
    Effect.gen(function*() {
      // More failures than the entity's own four retries of a reply (200 ms apart).
      outage.set("reply", 6)
      const exit = yield* finish(Steps, "steps-2")
      expect(exit).toEqual(Exit.succeed(3))
      expect(outage.get("reply")).toEqual(0)
    }))

  it.effect("a compensation whose journal write fails runs once, and the workflow fails with its own error", () =>
    Effect.gen(function*() {
      outage.set("activity:give-back", 3)
      const exit = yield* finish(Undo, "undo-1")
      expect(exit).toEqual(Exit.fail(new Refused()))
      expect({ take: runs.get("take"), giveBack: runs.get("give-back"), outage: outage.get("activity:give-back") }).toEqual({ take: 1, giveBack: 1, outage: 0 })
    }))

  it.effect("a durable timer whose message cannot be stored fires once storage answers", () =>
    Effect.gen(function*() {
      outage.set("clock:pause", 2)
      const exit = yield* finish(Wait, "wait-1")
      expect(exit).toEqual(Exit.succeed(3))
      expect({ after: runs.get("after"), outage: outage.get("clock:pause") }).toEqual({ after: 1, outage: 0 })
    }))
})
