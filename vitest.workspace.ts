import { defineWorkspace } from "vitest/config"

// Each package's own vitest.config.ts names it and finds its tests; bench has none.
export default defineWorkspace(["packages/*/vitest.config.ts"])
