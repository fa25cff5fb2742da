/**
 * What the pipeline knows about one request besides its body.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 @category Models */
export interface RequestContext {
  readonly requestId: string
  /** The wire format the client spoke: `openai`, `anthropic`, `gemini`, `responses`, or `inprocess`. */
  readonly ingress: string
  readonly startedAt: number
}

let counter = 0

/** @since 0.1.0 @category Constructors */
export const make = (options?: Partial<RequestContext>): RequestContext => ({
  requestId: options?.requestId ?? `req_${Date.now().toString(36)}${(counter++).toString(36)}`,
  ingress: options?.ingress ?? "inprocess",
  startedAt: options?.startedAt ?? Date.now()
})
