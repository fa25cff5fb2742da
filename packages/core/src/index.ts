/** @since 0.1.0 */
export * as Capabilities from "./Capabilities.js"
/** @since 0.1.0 */
export * as Catalog from "./Catalog.js"
/** @since 0.1.0 */
export * as ChatSchema from "./ChatSchema.js"
/** @since 0.1.0 */
export * as EmbeddingSchema from "./EmbeddingSchema.js"
/** @since 0.1.0 */
export * as Gateway from "./Gateway.js"
/** @since 0.1.0 */
export * as GatewayError from "./GatewayError.js"
/** @since 0.1.0 */
export * as Hooks from "./Hooks.js"
/** @since 0.1.0 */
export * as ImageSchema from "./ImageSchema.js"
/** @since 0.1.0 */
export * as ModelDiscovery from "./ModelDiscovery.js"
/** @since 0.1.0 */
export * as Passthrough from "./Passthrough.js"
/** @since 0.1.0 */
export * as Plugins from "./Plugins.js"
/** @since 0.1.0 */
export * as Provider from "./Provider.js"
/** @since 0.1.0 */
export * as ProviderRegistry from "./ProviderRegistry.js"
/** @since 0.1.0 */
export * as RequestContext from "./RequestContext.js"
/** @since 0.1.0 */
export * as Routing from "./Routing.js"
/** @since 0.1.0 */
export * as TestProvider from "./TestProvider.js"
/** @since 0.1.0 */
export * as Streaming from "./Streaming.js"
/** @since 0.1.0 */
export * as Deadlines from "./Deadlines.js"
/** @since 0.1.0 */
export * as EventStream from "./EventStream.js"
/** @since 0.1.0 */
export * as CircuitBreaker from "./CircuitBreaker.js"
/** @since 0.1.0 */
export * as LatencyStats from "./LatencyStats.js"
/** @since 0.1.0 */
export * as RetryPolicy from "./RetryPolicy.js"
/** @since 0.1.0 */
export * as Router from "./Router.js"
/** @since 0.1.0 */
export * as RoutingStrategy from "./RoutingStrategy.js"
/** @since 0.1.0 */
export * as StreamFailover from "./StreamFailover.js"
/** @since 0.1.0 */
export * as Tools from "./Tools.js"
/** @since 0.1.0 */
export * as ToolLoop from "./ToolLoop.js"
