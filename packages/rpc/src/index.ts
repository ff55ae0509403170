/**
 * @since 0.1.0
 */
export * as ApiConfig from "./ApiConfig.js"
export * as ApiKeys from "./ApiKeys.js"
export * as RecountApi from "./RecountApi.js"
export * as RecountClient from "./RecountClient.js"
export * as RecountHttpApi from "./RecountHttpApi.js"
export * as RecountServer from "./RecountServer.js"
