import { randomUUID } from "node:crypto"
import * as Aggregate from "@recount/core/Aggregate"
import type { AppendResult, EventData } from "@recount/core/EventEnvelope"
import { EventStore } from "@recount/core/EventStore"
import type { AppendError, EventDecodeError, ReadError } from "@recount/core/EventStoreError"
import type { RecordedEvent } from "@recount/core/EventEnvelope"
import * as ExpectedVersion from "@recount/core/ExpectedVersion"
import { SnapshotStore } from "@recount/core/SnapshotStore"
import * as Tracing from "@recount/core/Tracing"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import type { CommandResult, DecidedEvent, StateView } from "../AggregateProtocol.js"
import { ResidentAggregates } from "../ResidentAggregates.js"
import * as AppendNow from "./appendNow.js"
import * as PagedRead from "./pagedRead.js"
import { RuntimeConfig } from "../RuntimeConfig.js"
import { AggregateUnavailable, CommandConflict, InvalidCommand } from "../RuntimeError.js"

/** Where an instance's state comes from when it wakes. */
export interface Loaded<State> {
  readonly state: State
  readonly version: number
  /** The snapshot version used, or why no snapshot was used. */
  readonly snapshot: { readonly used: number } | { readonly ignored: string } | undefined
}

/**
 * Loads an aggregate's state: the latest usable snapshot, then the events after it. A snapshot of
 * another schema version, one that does not decode, or one ahead of the stream is ignored.
 */
export const load = <A extends Aggregate.Any>(
  aggregate: A,
  tenant: string,
  streamName: string,
  options?: { readonly toVersion?: number | undefined; readonly toTime?: Date | undefined; readonly useSnapshot?: boolean }
): Effect.Effect<Loaded<Aggregate.StateOf<A>>, ReadError | EventDecodeError, EventStore | SnapshotStore> =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const until = options?.toVersion ?? Number.MAX_SAFE_INTEGER
    const toTime = options?.toTime

    // Folds the stream from `start` at `startVersion`. With `anchored`, reading starts at
    // `startVersion` itself and the event there must exist: a snapshot ahead of the stream is
    // found without a separate query for the stream's version.
    const readPages = PagedRead.of(store)
    const foldFrom = (start: Aggregate.StateOf<A>, startVersion: number, anchored: boolean) =>
      Effect.suspend(() => {
        let state = start
        let version = startVersion
        let anchor = anchored ? "pending" as const : "ok" as const
        let failure: EventDecodeError | undefined
        // A page at a time, synchronously: per-event effect steps cost as much as decoding.
        // Returns whether to read on.
        const fold = (page: Iterable<RecordedEvent>): boolean => {
          for (const e of page) {
            if (e.streamVersion > until || (toTime !== undefined && e.recordedAt > toTime)) return false
            if (anchor === "pending") {
              if (e.streamVersion !== startVersion) return false
              anchor = "ok"
              continue
            }
            const event = aggregate.events.decodeEither(e)
            if (Either.isLeft(event)) {
              failure = event.left
              return false
            }
            state = aggregate.evolve(state, event.right)
            version = e.streamVersion
          }
          return true
        }
        const fromVersion = anchored ? startVersion : startVersion + 1
        const read: Effect.Effect<void, ReadError> = readPages
          ? readPages(streamName, { tenant, fromVersion }, fold)
          : store.readStream(streamName, { tenant, fromVersion }).pipe(
            Stream.runForEachWhile((e) => Effect.succeed(fold([e])))
          )
        return Effect.flatMap(read, () =>
          failure ? Effect.fail(failure) : Effect.succeed({ state, version, anchored: anchor === "ok" }))
      })

    const policy = aggregate.snapshot
    if (policy && options?.useSnapshot !== false) {
      const stored = yield* snapshots.load(streamName, { tenant })
      if (Option.isSome(stored)) {
        const s = stored.value
        let ignored: string | undefined
        if (s.schemaVersion !== policy.version) ignored = `schema version ${s.schemaVersion}, expected ${policy.version}`
        else if (s.version <= until && toTime === undefined) {
          const decoded = Schema.decodeUnknownEither(policy.schema)(s.state)
          if (Either.isLeft(decoded)) ignored = `does not decode: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`
          else {
            const folded = yield* foldFrom(decoded.right, s.version, true)
            if (folded.anchored) return { state: folded.state, version: folded.version, snapshot: { used: s.version } }
            ignored = `version ${s.version} is ahead of the stream`
          }
        }
        if (ignored) yield* Effect.logWarning(`ignoring snapshot of ${streamName}: ${ignored}`)
        const folded = yield* foldFrom(aggregate.initialState, 0, false)
        return { state: folded.state, version: folded.version, snapshot: ignored ? { ignored } : undefined }
      }
    }
    const folded = yield* foldFrom(aggregate.initialState, 0, false)
    return { state: folded.state, version: folded.version, snapshot: undefined }
  })

type ExecuteError<A extends Aggregate.Any> = Aggregate.ErrorOf<A> | CommandConflict | AggregateUnavailable | InvalidCommand

/** Where a command came from, recorded with its events. */
export interface Origin {
  /** The span of the command's trace the events belong to, if any. */
  readonly span?: Tracer.AnySpan | undefined
  /** Defaults to the command id. */
  readonly correlationId?: string | undefined
}

/** One command on its way through `execute`. */
interface Run<A extends Aggregate.Any> {
  readonly commandId: string
  readonly command: Aggregate.CommandOf<A>
  readonly origin: Origin | undefined
}

/** `Effect.matchEffect` with its handlers as arguments, so a caller's closures stay unnamed. */
const matchWith = <A, E, A2, E2, A3, E3>(
  effect: Effect.Effect<A, E>,
  onFailure: (e: E) => Effect.Effect<A2, E2>,
  onSuccess: (a: A) => Effect.Effect<A3, E3>
): Effect.Effect<A2 | A3, E2 | E3> => Effect.matchEffect(effect, { onFailure, onSuccess })

/** The in-memory aggregate instance behind one entity. Commands must not run concurrently. */
export const make = <A extends Aggregate.Any>(aggregate: A, tenant: string, aggregateId: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const snapshots = yield* SnapshotStore
    const config = yield* RuntimeConfig
    const resident = yield* ResidentAggregates
    const scope = yield* Effect.scope
    const streamName = Aggregate.streamName(aggregate, aggregateId)
    const context = yield* Effect.context<EventStore | SnapshotStore>()
    const appendNow = AppendNow.of(store)
    const fork = Runtime.runFork(yield* Effect.runtime<never>())
    let state: Aggregate.StateOf<A> = aggregate.initialState
    let version = 0
    // Until the state is known to match the store (after a load, and after every append whose
    // outcome we saw), the next command reloads first.
    let stale = true

    const key = `${tenant}/${streamName}`
    const dropState = () => {
      state = aggregate.initialState
      version = 0
      stale = true
    }
    yield* Effect.addFinalizer(() => Effect.sync(() => resident.remove(key)))

    const unavailable = (detail: string) => new AggregateUnavailable({ aggregate: aggregate.name, aggregateId, detail })

    const reload = load(aggregate, tenant, streamName).pipe(
      Effect.provide(context),
      Effect.tap((loaded) => Effect.sync(() => {
        state = loaded.state
        version = loaded.version
        stale = false
        resident.touch(key, dropState)
      })),
      Effect.mapError((e) => unavailable(e.message))
    )

    const readDecided = (first: number, last: number) =>
      last < first
        ? Effect.succeed<ReadonlyArray<DecidedEvent>>([])
        : store.readStream(streamName, { tenant, fromVersion: first, limit: last - first + 1 }).pipe(
          Stream.map((e): DecidedEvent => ({ eventId: e.eventId, type: e.type, streamVersion: e.streamVersion, data: e.data })),
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray),
          Effect.mapError((e) => unavailable(e.message))
        )

    const replay = (commandId: string, record: { readonly firstVersion: number; readonly streamVersion: number; readonly globalPosition: bigint }) =>
      Effect.map(readDecided(record.firstVersion, record.streamVersion), (events): CommandResult => ({
        aggregate: aggregate.name,
        aggregateId,
        commandId,
        streamVersion: record.streamVersion,
        globalPosition: record.globalPosition,
        events,
        alreadyApplied: true
      }))

    const takeSnapshot = (from: number, to: number) => {
      const policy = aggregate.snapshot
      if (!policy || Math.floor(to / policy.every) === Math.floor(from / policy.every)) return Effect.void
      const encoded = Schema.encodeEither(policy.schema)(state)
      if (Either.isLeft(encoded)) return Effect.logWarning(`cannot encode the state of ${streamName} for a snapshot`, encoded.left)
      // After the append and off the reply's path: a failed snapshot only costs a longer wake-up.
      return snapshots.save({ streamName, version: to, schemaVersion: policy.version, state: encoded.right }, { tenant }).pipe(
        Effect.catchAll((e) => Effect.logWarning(`snapshot of ${streamName} at ${to} failed`, e)),
        Effect.forkIn(scope),
        Effect.asVoid
      )
    }

    const appendError = (e: AppendError): ExecuteError<A> => {
      switch (e._tag) {
        case "StoreUnavailable":
          return unavailable(e.message)
        default:
          return new InvalidCommand({ aggregate: aggregate.name, detail: e.message })
      }
    }

    const conflict = (attempts: number) => new CommandConflict({ aggregate: aggregate.name, aggregateId, attempts })

    // The command path is a chain of steps defined once per instance rather than `Effect.gen` or
    // closures made per command: it runs for every command, and each generator step, `Either`
    // wrapper and named closure showed in its profile (a named closure costs a `defineProperty`
    // under tsx).
    const attempt = (run: Run<A>, n: number): Effect.Effect<CommandResult, ExecuteError<A>> =>
      stale ? Effect.flatMap(reload, () => decideAndWrite(run, n)) : decideAndWrite(run, n)

    const decideAndWrite = (run: Run<A>, n: number): Effect.Effect<CommandResult, ExecuteError<A>> => {
      const decided = aggregate.decide(state, run.command) as Effect.Effect<ReadonlyArray<Aggregate.EventOf<A>>, Aggregate.ErrorOf<A>>
      // Most deciders answer with `Effect.succeed` or `Effect.fail`, which are already exits:
      // no need to run them.
      if (Exit.isExit(decided)) {
        const exit = decided as Exit.Exit<ReadonlyArray<Aggregate.EventOf<A>>, Aggregate.ErrorOf<A>>
        if (Exit.isSuccess(exit)) return write(run, n, exit.value)
        const failure = Cause.failureOrCause(exit.cause)
        return Either.isLeft(failure) ? refused(run, n, failure.left) : Effect.failCause(failure.right)
      }
      return matchWith(decided, (refusal) => refused(run, n, refusal), (events) => write(run, n, events))
    }

    // A refusal must not come from a stale state (another writer appended behind this
    // instance's back, as a twin can during a failover): check before refusing. A retry of a
    // command that was applied before can be refused by today's state; the first delivery's
    // result is the answer.
    const refused = (run: Run<A>, n: number, refusal: Aggregate.ErrorOf<A>): Effect.Effect<CommandResult, ExecuteError<A>> =>
      Effect.flatMap(Effect.mapError(store.streamVersion(streamName, { tenant }), (e) => unavailable(e.message)), (current) => {
        if (current !== version && n <= config.maxConflictRetries) {
          stale = true
          return attempt(run, n + 1)
        }
        return Effect.flatMap(
          Effect.mapError(store.findCommand(run.commandId, { tenant }), (e) => unavailable(e.message)),
          (recorded): Effect.Effect<CommandResult, ExecuteError<A>> => Option.isSome(recorded) ? replay(run.commandId, recorded.value) : Effect.fail(refusal)
        )
      })

    // The events as they are appended, or why one cannot be encoded.
    const encode = (run: Run<A>, events: ReadonlyArray<Aggregate.EventOf<A>>): Array<EventData> | InvalidCommand => {
      const { commandId, origin } = run
      const data: Array<EventData> = []
      // The command caused the events; its trace, when it has one, ties them to the caller's.
      const metadata = origin?.span ? Tracing.metadata(origin.span) : undefined
      const correlationId = origin?.correlationId ?? commandId
      for (const event of events) {
        const encoded = aggregate.events.encodeEither(event)
        if (Either.isLeft(encoded)) return new InvalidCommand({ aggregate: aggregate.name, detail: encoded.left.message })
        const e = encoded.right
        data.push({ type: e.type, schemaVersion: e.schemaVersion, data: e.data, eventId: randomUUID(), metadata, correlationId, causationId: commandId })
      }
      return data
    }

    const replyOf = (commandId: string, data: ReadonlyArray<EventData>, result: AppendResult): CommandResult => {
      const decided: Array<DecidedEvent> = []
      for (let i = 0; i < data.length; i++) {
        const e = data[i]!
        decided.push({ eventId: e.eventId!, type: e.type, streamVersion: result.firstVersion + i, data: e.data })
      }
      return {
        aggregate: aggregate.name,
        aggregateId,
        commandId,
        streamVersion: result.streamVersion,
        globalPosition: result.globalPosition,
        events: decided,
        alreadyApplied: false
      }
    }

    // What an append's outcome means for the caller, on both paths: the state follows a success;
    // `undefined` is a conflict (the caller decides again). Throws only if `evolve` does, leaving
    // the instance stale.
    const settle = (
      commandId: string,
      events: ReadonlyArray<Aggregate.EventOf<A>>,
      data: ReadonlyArray<EventData>,
      before: number,
      appended: Exit.Exit<AppendResult, AppendError>
    ): Effect.Effect<CommandResult, ExecuteError<A>> | undefined => {
      if (Exit.isSuccess(appended)) {
        const result = appended.value
        if (result.alreadyApplied) {
          // Applied by an earlier delivery, maybe on another node: what we hold may be behind.
          stale = true
          return replay(commandId, result)
        }
        // Stale until the state has followed the append, should `evolve` throw (and stale still
        // if the instance's state was dropped meanwhile).
        const dropped = stale
        stale = true
        state = Aggregate.fold(aggregate, events, state)
        version = result.streamVersion
        stale = dropped
        // After the append and off the reply's path.
        const snapshot = takeSnapshot(before, result.streamVersion)
        if (snapshot !== Effect.void) fork(snapshot)
        return Effect.succeed(replyOf(commandId, data, result))
      }
      stale = true
      const failure = Cause.failureOrCause(appended.cause)
      if (Either.isRight(failure)) return Effect.failCause(failure.right)
      return failure.left._tag === "WrongExpectedVersion" ? undefined : Effect.fail(appendError(failure.left))
    }

    const write = (run: Run<A>, n: number, events: ReadonlyArray<Aggregate.EventOf<A>>): Effect.Effect<CommandResult, ExecuteError<A>> => {
      const { commandId } = run
      const data = encode(run, events)
      if (data instanceof InvalidCommand) return Effect.fail(data)
      const before = version
      // Once the append is sent, the state must follow it: no interruption in between.
      return Effect.flatMap(
        Effect.uninterruptible(Effect.map(
          Effect.exit(store.append(streamName, data, { expectedVersion: ExpectedVersion.exact(before), tenant, commandId })),
          (appended) => settle(commandId, events, data, before, appended)
        )),
        (outcome) => outcome ?? (n <= config.maxConflictRetries ? attempt(run, n + 1) : Effect.fail(conflict(n)))
      )
    }

    const execute = (commandId: string, command: Aggregate.CommandOf<A>, origin?: Origin): Effect.Effect<CommandResult, ExecuteError<A>> =>
      Effect.suspend(() => {
        if (!stale) resident.touch(key, dropState)
        return attempt({ commandId, command, origin }, 1)
      })

    // The common command without a fiber: a current instance whose decider answered with an exit
    // of events appends through the store's callback, and the callback updates the state. Returns
    // false, having changed nothing, when the command must go through `execute` instead (a stale
    // instance, a refusal, an effectful decider, a store without the capability). The caller holds
    // the instance's mailbox until `done`, which answers with what the caller should run:
    // `undefined` to send the command through `execute` (a conflict).
    const tryFast = (
      commandId: string,
      command: Aggregate.CommandOf<A>,
      origin: Origin | undefined,
      done: (outcome: Effect.Effect<CommandResult, ExecuteError<A>> | undefined) => void
    ): boolean => {
      if (stale || appendNow === undefined) return false
      let events: ReadonlyArray<Aggregate.EventOf<A>>
      let data: Array<EventData> | InvalidCommand
      try {
        const decided = aggregate.decide(state, command)
        if (!Exit.isExit(decided)) return false
        const exit = decided as Exit.Exit<ReadonlyArray<Aggregate.EventOf<A>>, Aggregate.ErrorOf<A>>
        if (!Exit.isSuccess(exit)) return false
        events = exit.value
        data = encode({ commandId, command, origin }, events)
      } catch {
        // A decider that throws: `execute` runs it again and turns the throw into a defect.
        return false
      }
      if (data instanceof InvalidCommand) return false
      const appending = data
      resident.touch(key, dropState)
      const before = version
      appendNow(streamName, appending, { expectedVersion: ExpectedVersion.exact(before), tenant, commandId }, (appended) => {
        let outcome: Effect.Effect<CommandResult, ExecuteError<A>> | undefined
        try {
          outcome = settle(commandId, events, appending, before, appended)
        } catch (defect) {
          outcome = Effect.die(defect)
        }
        done(outcome)
      })
      return true
    }

    const view: Effect.Effect<StateView, AggregateUnavailable> = Effect.suspend(() =>
      Effect.zipRight(stale ? reload : Effect.void, Effect.sync(() => ({ version, state })))
    )

    // Wake eagerly; if the store is down now, the first command retries the load.
    yield* Effect.ignore(reload)

    return { execute, tryFast, view, streamName } as const
  })
