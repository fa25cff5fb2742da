/**
 * What the Gemini API and Vertex AI adapters honour of the canonical requests: chat as
 * `request.ts` maps it (see its header), embeddings as `embeddings.ts` and images as
 * `imagen.ts`.
 *
 * @internal
 */
import * as Capabilities from "@switchyard/core/Capabilities"
import { isRecord } from "@switchyard/provider-http/Wire"
import * as Embeddings from "./embeddings.js"
import * as Imagen from "./imagen.js"
import { nativeFields } from "./request.js"

const responseFormats: ReadonlySet<string> = new Set(["text", "json_object", "json_schema"])

const efforts: ReadonlySet<string> = new Set(["none", "minimal", "low", "medium", "high"])

/** @internal */
export const chat: Capabilities.OperationSupport<"chat"> = {
  // Every parameter not named here is not honoured.
  parameters: Capabilities.honouring("chat", {
    temperature: true,
    top_p: true,
    max_tokens: true,
    max_completion_tokens: true,
    stop: true,
    n: true,
    presence_penalty: true,
    frequency_penalty: true,
    seed: true,
    tools: Capabilities.partially(
      "function tools (a tool's strict is not sent)",
      (tools) => Array.isArray(tools) && tools.every((tool) => isRecord(tool) && tool.type === "function")
    ),
    tool_choice: true,
    response_format: Capabilities.partially(
      "json_object and json_schema (as responseMimeType and responseJsonSchema); text is the default",
      (format) => isRecord(format) && typeof format.type === "string" && responseFormats.has(format.type)
    ),
    reasoning_effort: Capabilities.partially(
      "none, minimal, low, medium, high (as thinkingConfig)",
      (effort) => typeof effort === "string" && efforts.has(effort)
    )
  }),
  vendorFields: nativeFields,
  forwardsUnknown: false
}

/**
 * The capabilities of a provider whose Imagen takes `imagen`.
 *
 * @internal
 */
export const make = (imagen: Imagen.Dialect): Capabilities.Capabilities => ({
  chat,
  embeddings: Embeddings.support,
  images: Imagen.support(imagen)
})
