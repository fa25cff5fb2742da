/** @since 0.1.0 */
export * as MockProvider from "./MockProvider.js"
/** @since 0.1.0 */
export * as MockUpstream from "./MockUpstream.js"
/** @since 0.1.0 */
export * as Simulation from "./Simulation.js"
