/** @since 0.1.0 */
export * as HttpApi from "./HttpApi.js"
/** @since 0.1.0 */
export * as HttpErrors from "./HttpErrors.js"
/** @since 0.1.0 */
export * as RequestBody from "./RequestBody.js"
/** @since 0.1.0 */
export * as ResponseBody from "./ResponseBody.js"
