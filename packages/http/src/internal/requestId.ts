/** @internal */
import type * as Headers from "@effect/platform/Headers"
import { newRequestId } from "@switchyard/core/RequestContext"

const sane = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The client's `x-request-id` when it is a sane token (at most 128 of `[A-Za-z0-9._:-]`),
 * else a fresh one: whatever is echoed back in a header is known to be harmless.
 *
 * @internal
 */
export const fromHeaders = (headers: Headers.Headers): string => {
  const incoming = headers["x-request-id"]
  return incoming !== undefined && sane.test(incoming) ? incoming : newRequestId()
}
