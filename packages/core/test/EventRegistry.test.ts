import { describe, expect, it } from "@effect/vitest"
import * as EventRegistry from "@recount/core/EventRegistry"
import * as Upcaster from "@recount/core/Upcaster"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

class Opened extends Schema.TaggedClass<Opened>()("Opened", { owner: Schema.String, at: Schema.Date }) {}
class Closed extends Schema.TaggedClass<Closed>()("Closed", {}) {}
const Renamed = Schema.TaggedStruct("Renamed", { name: Schema.NonEmptyString })

describe("EventRegistry", () => {
  const registry = EventRegistry.make([Opened, Closed, Renamed])

  it.effect("encodes with the schema (dates become strings) and strips the tag into the type", () =>
    Effect.gen(function*() {
      const encoded = yield* registry.encode(new Opened({ owner: "Ada", at: new Date("2026-01-02T03:04:05Z") }))
      expect(encoded).toEqual({ type: "Opened", schemaVersion: 1, data: { owner: "Ada", at: "2026-01-02T03:04:05.000Z" } })
      const decoded = yield* registry.decode({ eventId: "e1", ...encoded })
      expect(decoded).toEqual(new Opened({ owner: "Ada", at: new Date("2026-01-02T03:04:05Z") }))
      expect(registry.types).toEqual(["Opened", "Closed", "Renamed"])
    }))

  it.effect("an event that breaks its own schema does not encode", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(registry.encode({ _tag: "Renamed", name: "" }))
      expect(error).toMatchObject({ _tag: "EventEncodeError", eventType: "Renamed" })
      const unknown = yield* Effect.flip(registry.encode({ _tag: "Nope" } as never))
      expect(unknown.detail).toContain("not registered")
    }))

  it("names the event, its type and version and the schema's complaint when data does not decode", () => {
    const result = registry.decodeEither({ eventId: "e-42", type: "Opened", schemaVersion: 1, data: { owner: 7 } })
    const error = Either.getOrThrow(Either.flip(result))
    expect(error).toMatchObject({ _tag: "EventDecodeError", eventId: "e-42", eventType: "Opened", schemaVersion: 1 })
    expect(error.message).toContain("e-42")
    expect(error.detail).toContain("owner")
    const future = Either.getOrThrow(Either.flip(registry.decodeEither({ eventId: "e", type: "Closed", schemaVersion: 3, data: {} })))
    expect(future.detail).toContain("newer")
  })

  it("chains upcasters from the stored version to the current one", () => {
    const v3 = EventRegistry.make([Renamed], {
      upcasters: [
        Upcaster.make({ type: "Renamed", fromVersion: 2, upcast: (d) => ({ name: (d as { title: string }).title }) }),
        Upcaster.make({ type: "Renamed", fromVersion: 1, upcast: (d) => ({ title: (d as { label: string }).label }) })
      ]
    })
    expect(v3.currentVersion("Renamed")).toBe(3)
    expect(Either.getOrThrow(v3.decodeEither({ eventId: "a", type: "Renamed", schemaVersion: 1, data: { label: "x" } })))
      .toEqual({ _tag: "Renamed", name: "x" })
    expect(Either.getOrThrow(v3.decodeEither({ eventId: "b", type: "Renamed", schemaVersion: 3, data: { name: "y" } })))
      .toEqual({ _tag: "Renamed", name: "y" })
    const thrown = v3.decodeEither({ eventId: "c", type: "Renamed", schemaVersion: 1, data: null })
    expect(Either.getOrThrow(Either.flip(thrown)).detail).toContain("upcasting from version 1 threw")
  })

  it("refuses duplicate types and gaps in upcaster chains at startup", () => {
    expect(() => EventRegistry.make([Closed, Closed])).toThrow("registered twice")
    expect(() =>
      EventRegistry.make([Closed], { upcasters: [Upcaster.make({ type: "Closed", fromVersion: 2, upcast: (d) => d })] })
    ).toThrow("no gaps")
    expect(() =>
      EventRegistry.make([Closed], { upcasters: [Upcaster.make({ type: "Other", fromVersion: 1, upcast: (d) => d })] })
    ).toThrow("unregistered")
  })
})
