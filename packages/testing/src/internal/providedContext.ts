declare module "vitest" {
  export interface ProvidedContext {
    /** The server every suite creates its fresh database on (set by `globalSetup`). */
    readonly recountDatabaseUrl: string
  }
}

export {}
