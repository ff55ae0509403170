/**
 * The names under which statements are prepared: one per text, the first `limit` texts only (a
 * text past them runs unprepared), and a renewed text gets a name never used before.
 */
import { describe, expect, it } from "@effect/vitest"
import * as StatementNames from "../src/internal/statementNames.js"

describe("StatementNames", () => {
  it("names a text once, the first `limit` texts only, and renews a known text under a new name", () => {
    const names = StatementNames.make("s_", 2)
    const a = names.nameOf("SELECT $1")
    const b = names.nameOf("SELECT $2")
    expect([a, b, names.nameOf("SELECT $1")]).toEqual(["s_0", "s_1", "s_0"])
    // Past the limit: unprepared, now and later, while the known ones keep their names.
    expect([names.nameOf("SELECT $3"), names.nameOf("SELECT $3"), names.nameOf("SELECT $2")]).toEqual([undefined, undefined, "s_1"])
    names.renew("SELECT $1")
    expect(names.nameOf("SELECT $1")).toBe("s_2")
    // A text without a name stays without one.
    names.renew("SELECT $3")
    expect(names.nameOf("SELECT $3")).toBeUndefined()
  })
})
