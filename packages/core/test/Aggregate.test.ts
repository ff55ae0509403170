import { describe, expect, it } from "@effect/vitest"
import * as Aggregate from "@recount/core/Aggregate"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}
class Pinged extends Schema.TaggedClass<Pinged>()("Pinged", {}) {}

/** No domain errors at all: the common case for a counter or a log. */
const Pinger = Aggregate.make({
  name: "pinger",
  commands: [Ping],
  events: [Pinged],
  initialState: 0,
  decide: () => Effect.succeed([new Pinged()]),
  evolve: (count: number) => count + 1
})

describe("Aggregate", () => {
  it("an aggregate without domain errors fits wherever any aggregate does, and refuses every value as its error", () => {
    // Type-checked: this line did not compile while the error schema's type was `never`.
    const registered: ReadonlyArray<Aggregate.Any> = [Pinger]
    expect(registered[0]!.name).toBe("pinger")
    expect(Schema.is(Pinger.errors)(new Pinged())).toBe(false)
    expect(Schema.is(Pinger.errors)({ _tag: "Anything" })).toBe(false)
    expect(Aggregate.fold(Pinger, [new Pinged(), new Pinged()])).toBe(2)
  })
})
