/**
 * The pass-through fast path: a request a client sent in a provider's own wire format is
 * forwarded to that provider as it came (only the model rewritten), and the answer's bytes go
 * back as they arrive, while the usage is still read from them for accounting. The gateway
 * takes it when the provider speaks the client's format and no plugin must read the body; any
 * other candidate of the same request is served by translation.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect/Effect"
import type { Scope } from "effect/Scope"
import type { Usage } from "./ChatSchema.js"
import type { ProviderError } from "./GatewayError.js"
import type { CallOptions } from "./Provider.js"
import type { Pull } from "./Streaming.js"

/**
 * The wire formats a provider may speak natively.
 *
 * @since 0.1.0 @category Models
 */
export type Format = "openai" | "responses" | "anthropic" | "gemini"

/** @since 0.1.0 @category Models */
export interface Request {
  readonly format: Format
  /**
   * The vendor's operation, as its API names it: `messages` or `messages/count_tokens`
   * (Anthropic), `generateContent`, `streamGenerateContent` or `countTokens` (Gemini),
   * `chat/completions` (OpenAI), `responses` (OpenAI's Responses API).
   */
  readonly operation: string
  /** The client's body as it was received. */
  readonly text: string
  /** The same, parsed. */
  readonly body: Readonly<Record<string, unknown>>
  readonly stream: boolean
  /**
   * The client's vendor headers the upstream must see (`anthropic-version`, `anthropic-beta`),
   * names in lower case. Never credentials: the provider sends its own.
   */
  readonly headers: Readonly<Record<string, string>>
}

/** A whole answer: the upstream's 2xx body, unchanged. @since 0.1.0 @category Models */
export interface Answer {
  readonly body: string
  readonly contentType: string
  /** What the body says was used (the vendor's usage, in canonical terms). */
  readonly usage: Usage | undefined
}

/** A streamed answer: the body's text in the pieces it arrived in. @since 0.1.0 @category Models */
export interface StreamAnswer<E = ProviderError> {
  readonly pull: Pull<string, E>
  readonly contentType: string
  /** What the stream has said was used so far; complete once it ended. */
  readonly usage: () => Usage | undefined
}

/**
 * What a provider that speaks formats natively offers (an OpenAI upstream may speak both Chat
 * Completions and the Responses API). `model` is the upstream model id (aliases resolved,
 * provider prefix stripped): it replaces the client's.
 *
 * @since 0.1.0 @category Models
 */
export interface Passthrough {
  readonly formats: ReadonlyArray<Format>
  readonly forward: (request: Request, model: string, options?: CallOptions) => Effect<Answer, ProviderError>
  /** Opens the stream; the upstream lives as long as the Scope. */
  readonly forwardStream: (
    request: Request,
    model: string,
    options?: CallOptions
  ) => Effect<StreamAnswer, ProviderError, Scope>
}

/**
 * Whether a provider's pass-through forwards requests of `format`.
 *
 * @since 0.1.0 @category Guards
 */
export const speaks = (passthrough: Passthrough | undefined, format: Format): passthrough is Passthrough =>
  passthrough !== undefined && passthrough.formats.includes(format)

/**
 * One provider's pass-throughs as one, each request going to the one that speaks its format;
 * `undefined` when there are none.
 *
 * @since 0.1.0 @category Constructors
 */
export const combine = (parts: ReadonlyArray<Passthrough>): Passthrough | undefined => {
  if (parts.length <= 1) return parts[0]
  const forFormat = (format: Format): Passthrough => parts.find((part) => part.formats.includes(format)) ?? parts[0]!
  return {
    formats: parts.flatMap((part) => part.formats),
    forward: (request, model, options) => forFormat(request.format).forward(request, model, options),
    forwardStream: (request, model, options) => forFormat(request.format).forwardStream(request, model, options)
  }
}
