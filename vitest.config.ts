import { defineConfig, mergeConfig } from "vitest/config"
import shared from "./vitest.shared.js"

export default mergeConfig(shared, defineConfig({
  test: {
    // One PostgreSQL for the whole run (or DATABASE_URL); every suite makes its own database on it.
    globalSetup: ["./packages/testing/src/globalSetup.ts"],
    reporters: ["default", "./vitest.summary.ts"]
  }
}))
