/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"
export * as CliError from "./CliError.js"
