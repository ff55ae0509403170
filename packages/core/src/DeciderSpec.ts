/**
 * Given / when / then for deciders, with no runtime and no store:
 *
 * ```ts
 * it.effect("refuses to overdraw", () =>
 *   DeciderSpec.for(BankAccount)
 *     .given([new Opened({ owner: "Ada" }), new Deposited({ amount: 10 })])
 *     .when(new Withdraw({ amount: 50 }))
 *     .thenFails(new InsufficientFunds({ balance: 10, requested: 50 })))
 * ```
 *
 * A failed expectation dies with an `Error` whose message shows expected and actual values.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import { structuralRegion } from "effect/Utils"
import { type Aggregate, fold, type Tagged } from "./Aggregate.js"

/** @since 0.1.0 */
export interface When<State, Command, Event, DomainError> {
  /** Expects exactly these events, compared by their encoded form. */
  readonly then: (events: ReadonlyArray<Event>) => Effect.Effect<void>
  /** Expects this domain error (structural equality) or one passing the predicate. */
  readonly thenFails: (expected: DomainError | ((error: DomainError) => boolean)) => Effect.Effect<void>
  /** Expects the state after the decided events to equal this, or to pass the predicate. */
  readonly thenState: (expected: State | ((state: State) => boolean)) => Effect.Effect<void>
  /** The decision itself, for custom assertions. */
  readonly result: Effect.Effect<{ readonly events: ReadonlyArray<Event>; readonly state: State }, DomainError>
  readonly command: Command
}

/** @since 0.1.0 */
export interface Given<State, Command, Event, DomainError> {
  readonly when: (command: Command) => When<State, Command, Event, DomainError>
  /** Expects the state after the given events alone. */
  readonly thenState: (expected: State | ((state: State) => boolean)) => Effect.Effect<void>
}

const show = (value: unknown) =>
  JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `${v}n` : v), 2)

const same = (a: unknown, b: unknown) => structuralRegion(() => Equal.equals(a, b)) || show(a) === show(b)

const fail = (what: string, expected: unknown, actual: unknown) =>
  Effect.die(new Error(`${what}\nexpected: ${show(expected)}\n  actual: ${show(actual)}`))

const checkState = <State>(state: State, expected: State | ((state: State) => boolean)) =>
  typeof expected === "function"
    ? (expected as (s: State) => boolean)(state) ? Effect.void : fail("state does not satisfy the predicate", "(predicate)", state)
    : same(state, expected) ? Effect.void : fail("unexpected state", expected, state)

/**
 * Starts a specification for one aggregate.
 *
 * @since 0.1.0
 */
export const forAggregate = <State, Command extends Tagged, Event extends Tagged, DomainError>(
  aggregate: Aggregate<State, Command, Event, DomainError>
) => ({
  given: (given: ReadonlyArray<Event>): Given<State, Command, Event, DomainError> => {
    const encoded = (events: ReadonlyArray<Event>) => events.map((e) => Either.getOrThrow(aggregate.events.encodeEither(e)))
    return {
      thenState: (expected) => checkState(fold(aggregate, given), expected),
      when: (command) => {
        const result = Effect.suspend(() => {
          const before = fold(aggregate, given)
          return Effect.map(aggregate.decide(before, command), (events) => ({ events, state: fold(aggregate, events, before) }))
        })
        return {
          command,
          result,
          then: (expected) =>
            Effect.flatMap(Effect.either(result), (outcome) =>
              Either.isLeft(outcome)
                ? fail("the command was refused", encoded(expected), outcome.left)
                : show(encoded(outcome.right.events)) === show(encoded(expected))
                ? Effect.void
                : fail("unexpected events", encoded(expected), encoded(outcome.right.events))),
          thenFails: (expected) =>
            Effect.flatMap(Effect.either(result), (outcome) => {
              if (Either.isRight(outcome)) return fail("expected a domain error, got events", expected, encoded(outcome.right.events))
              const ok = typeof expected === "function"
                ? (expected as (e: DomainError) => boolean)(outcome.left)
                : same(outcome.left, expected)
              return ok ? Effect.void : fail("unexpected domain error", expected, outcome.left)
            }),
          thenState: (expected) =>
            Effect.flatMap(Effect.either(result), (outcome) =>
              Either.isLeft(outcome) ? fail("the command was refused", "(a state)", outcome.left) : checkState(outcome.right.state, expected))
        }
      }
    }
  }
})

export {
  /** Alias of `forAggregate`, reading as `DeciderSpec.for(Account)`. */
  forAggregate as for
}
