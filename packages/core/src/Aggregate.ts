/**
 * An aggregate as plain domain code: a name (its stream category), command and event schemas,
 * an initial state, `decide` and `evolve`. Nothing here knows about the runtime that hosts it.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as EventRegistry from "./EventRegistry.js"

/** Anything with a `_tag`: commands, events. */
export interface Tagged {
  readonly _tag: string
}

/**
 * When to take snapshots, and how to store the state.
 *
 * @since 0.1.0
 */
export interface SnapshotPolicy<State> {
  /** Take a snapshot when the stream version crosses a multiple of this. */
  readonly every: number
  /** Encodes the state to JSON and back. */
  readonly schema: Schema.Schema<State, any>
  /** Bump it when the state's shape changes: snapshots of other versions are ignored. */
  readonly version: number
}

/**
 * @since 0.1.0
 */
export interface Aggregate<State, Command extends Tagged, Event extends Tagged, DomainError> {
  /** The stream category; an instance's stream is `<name>-<id>`. */
  readonly name: string
  readonly commands: Schema.Schema<Command, any>
  readonly commandTypes: ReadonlyArray<string>
  readonly events: EventRegistry.EventRegistry<Event>
  /**
   * The domain errors' schema (`Schema.Never` when there are none). Typed loosely on purpose: a
   * schema is invariant in its type, so an aggregate without errors (`never`) would not fit
   * `Aggregate.Any`; `decide` carries the precise type.
   */
  readonly errors: Schema.Schema<any, any>
  readonly initialState: State
  /** What should happen: the events a command produces, or why it is refused. */
  readonly decide: (state: State, command: Command) => Effect.Effect<ReadonlyArray<Event>, DomainError>
  /** What did happen: the state after an event. Pure and total. */
  readonly evolve: (state: State, event: Event) => State
  readonly snapshot: SnapshotPolicy<State> | undefined
  /** How long an idle instance stays in memory; the runtime's default when absent. */
  readonly idleTimeout: Duration.Duration | undefined
}

/** @since 0.1.0 */
export type Any = Aggregate<any, any, any, any>
/** @since 0.1.0 */
export type StateOf<A> = A extends Aggregate<infer S, any, any, any> ? S : never
/** @since 0.1.0 */
export type CommandOf<A> = A extends Aggregate<any, infer C, any, any> ? C : never
/** @since 0.1.0 */
export type EventOf<A> = A extends Aggregate<any, any, infer E, any> ? E : never
/** @since 0.1.0 */
export type ErrorOf<A> = A extends Aggregate<any, any, any, infer E> ? E : never

type CommandSchema = Schema.Schema<any, any, never> & { readonly _tag?: string }
type ErrorSchema = Schema.Schema<any, any, never>

const categoryPattern = /^[A-Za-z][A-Za-z0-9_.]*$/

/**
 * Defines an aggregate. Throws at startup when the name cannot be a stream category or the
 * schemas are inconsistent.
 *
 * @since 0.1.0
 */
export const make = <
  State,
  const Commands extends ReadonlyArray<CommandSchema>,
  const Events extends ReadonlyArray<EventRegistry.EventSchema>,
  const Errors extends ReadonlyArray<ErrorSchema> = []
>(options: {
  readonly name: string
  readonly commands: Commands
  readonly events: Events
  readonly upcasters?: EventRegistry.MakeOptions["upcasters"]
  readonly errors?: Errors
  readonly initialState: State
  readonly decide: (
    state: State,
    command: Schema.Schema.Type<Commands[number]>
  ) => Effect.Effect<ReadonlyArray<EventRegistry.EventOf<Events>>, Schema.Schema.Type<Errors[number]>>
  readonly evolve: (state: State, event: EventRegistry.EventOf<Events>) => State
  readonly snapshot?: SnapshotPolicy<State>
  readonly idleTimeout?: Duration.DurationInput
}): Aggregate<State, Schema.Schema.Type<Commands[number]>, EventRegistry.EventOf<Events>, Schema.Schema.Type<Errors[number]>> => {
  if (!categoryPattern.test(options.name)) {
    throw new Error(`aggregate name ${JSON.stringify(options.name)} must be a letter then letters, digits, _ or . (it is the stream category)`)
  }
  if (options.commands.length === 0) throw new Error(`aggregate ${options.name} has no commands`)
  if (options.snapshot && (!Number.isInteger(options.snapshot.every) || options.snapshot.every < 1)) {
    throw new Error(`aggregate ${options.name}: snapshot.every must be a positive integer`)
  }
  const errors = options.errors ?? []
  return {
    name: options.name,
    commands: Schema.Union(...options.commands) as Schema.Schema<any, any>,
    commandTypes: options.commands.map(EventRegistry.tagOf),
    events: EventRegistry.make(options.events, { upcasters: options.upcasters }),
    errors: (errors.length === 0 ? Schema.Never : Schema.Union(...errors)) as Schema.Schema<any, any>,
    initialState: options.initialState,
    decide: options.decide,
    evolve: options.evolve,
    snapshot: options.snapshot,
    idleTimeout: options.idleTimeout === undefined ? undefined : Duration.decode(options.idleTimeout)
  }
}

/**
 * The stream of one instance: `<name>-<id>`.
 *
 * @since 0.1.0
 */
export const streamName = (aggregate: Any, aggregateId: string): string => `${aggregate.name}-${aggregateId}`

/**
 * The state after a sequence of events.
 *
 * @since 0.1.0
 */
export const fold = <State, Event extends Tagged>(
  aggregate: Aggregate<State, any, Event, any>,
  events: Iterable<Event>,
  from: State = aggregate.initialState
): State => {
  let state = from
  for (const event of events) state = aggregate.evolve(state, event)
  return state
}
