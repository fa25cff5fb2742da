/** @since 0.1.0 */
export * as Forwarding from "./Forwarding.js"
/** @since 0.1.0 */
export * as HttpTransport from "./HttpTransport.js"
/** @since 0.1.0 */
export * as Redact from "./Redact.js"
/** @since 0.1.0 */
export * as Upstream from "./Upstream.js"
/** @since 0.1.0 */
export * as UpstreamErrors from "./UpstreamErrors.js"
/** @since 0.1.0 */
export * as TestUpstream from "./TestUpstream.js"
/** @since 0.1.0 */
export * as Wire from "./Wire.js"
