import { defineConfig } from "vitest/config"

// Settings every package's tests share; the root config adds the one PostgreSQL per run.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000
  }
})
