/**
 * What the pipeline knows about one request besides its body.
 *
 * @since 0.1.0
 */

/**
 * What routing did for a request, filled in by the gateway as it runs.
 *
 * @since 0.1.0 @category Models
 */
export interface RoutingTrace {
  /** Calls made to upstreams, retries and failovers included. */
  attempts: number
  /**
   * The parameters left out of the last attempt because its provider does not honour them
   * (under the `warn` and `drop` policies).
   */
  dropped?: ReadonlyArray<string> | undefined
}

/** @since 0.1.0 @category Models */
export interface RequestContext {
  readonly requestId: string
  /** The wire format the client spoke: `openai`, `anthropic`, `gemini`, `responses`, or `inprocess`. */
  readonly ingress: string
  readonly startedAt: number
  /** The request's headers, names in lower case (what `conditional` routing may match on). */
  readonly headers?: Readonly<Record<string, string | undefined>> | undefined
  /**
   * Given, the gateway counts into it, so that the caller can report the attempts of a request
   * that failed too (a result carries them on success).
   */
  readonly trace?: RoutingTrace | undefined
}

/**
 * `req_` and 32 random hex digits: unique across processes, which a load balancer in front of
 * several gateways needs.
 *
 * @since 0.1.0 @category Constructors
 */
export const newRequestId = (): string => `req_${crypto.randomUUID().replaceAll("-", "")}`

/** @since 0.1.0 @category Constructors */
export const make = (options?: Partial<RequestContext>): RequestContext => ({
  requestId: options?.requestId ?? newRequestId(),
  ingress: options?.ingress ?? "inprocess",
  startedAt: options?.startedAt ?? Date.now(),
  headers: options?.headers,
  trace: options?.trace
})
