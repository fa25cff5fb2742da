/** @since 0.1.0 */
export * as Cli from "./Cli.js"
/** @since 0.1.0 */
export * as Config from "./Config.js"
/** @since 0.1.0 */
export * as Server from "./Server.js"
