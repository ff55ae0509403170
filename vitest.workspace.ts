import { defineWorkspace } from "vitest/config"

// Each package's own vitest.config.ts names it and finds its tests.
export default defineWorkspace(["packages/*"])
