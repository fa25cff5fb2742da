/**
 * OpenAI-compatible vendors as data. A preset is what turns `OpenAiProvider` into one vendor's
 * adapter: its base URL, the environment variable that conventionally holds its key, and the
 * few ways it differs (the header that carries the key, the model families it serves by name,
 * how it continues a prefill, the parameters and operations its documentation says it lacks).
 * Adding a vendor is one entry in the table below.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type * as OpenAiProvider from "./OpenAiProvider.js"

/**
 * One OpenAI-compatible vendor.
 *
 * @since 0.1.0 @category Models
 */
export interface Preset {
  /**
   * The API root that `/chat/completions` and `/models` are appended to. A part that differs
   * per deployment (a workspace host, an account id) is a `${VARIABLE}` read from the
   * environment, as in the server's configuration file: while it is unset the preset has no
   * default and a base URL must be given.
   */
  readonly baseUrl: string
  /** The environment variable conventionally holding the API key. Absent: the upstream takes none. */
  readonly apiKeyEnv?: string
  /** The header that carries the bare key, for a vendor that does not take `Authorization: Bearer`. */
  readonly apiKeyHeader?: string
  /**
   * Glob patterns of the vendor's own model ids, which it serves by name when no `models` are
   * configured. Absent for hosts of many vendors' models (their ids overlap with everyone's):
   * those serve their configured `models`, or what a `name/model` prefix pins to them.
   */
  readonly families?: ReadonlyArray<string>
  /** How the vendor continues an assistant prefill, if it does (see `OpenAiProvider.Options`). */
  readonly prefill?: OpenAiProvider.Options["prefill"]
  /**
   * The canonical parameters the vendor's documentation lists as not supported, per operation.
   * Only what the documentation says: a parameter it is silent about is taken as honoured.
   */
  readonly unsupported?: OpenAiProvider.Unsupported
  /**
   * The operations besides chat the vendor's OpenAI-compatible API documentably lacks
   * (`false`). Absent: offered.
   */
  readonly operations?: OpenAiProvider.Operations
}

// Sources: each vendor's OpenAI-compatibility documentation, cross-checked with Ferro's
// providers (ferro-labs/ai-gateway `providers/<name>`, `.env.example`), whose key variable
// names are kept so a Ferro environment works unchanged. `unsupported` and `operations` state
// only what the page cited next to them says; a vendor without them is taken to offer
// embeddings and image generation and to honour every parameter.
const table = {
  groq: {
    baseUrl: "https://api.groq.com/openai/v1",
    apiKeyEnv: "GROQ_API_KEY",
    // https://console.groq.com/docs/openai ("Currently Unsupported OpenAI Features": a 400 if
    // supplied; `n` must be 1, which the gateway treats as unset).
    unsupported: { chat: ["logprobs", "logit_bias", "top_logprobs", "n"] },
    // Groq's API (https://github.com/groq/groq-python/blob/main/api.md, generated from its
    // OpenAPI spec) has chat, embeddings, audio, models, batches and files: no image generation.
    operations: { images: false }
  },
  // Embeddings and image generation at the OpenAI paths:
  // https://docs.together.ai/docs/inference/openai-compatibility ("Endpoint compatibility matrix").
  together: { baseUrl: "https://api.together.ai/v1", apiKeyEnv: "TOGETHER_API_KEY" },
  fireworks: {
    baseUrl: "https://api.fireworks.ai/inference/v1",
    apiKeyEnv: "FIREWORKS_API_KEY",
    // Embeddings at POST /embeddings:
    // https://docs.fireworks.ai/api-reference/creates-an-embedding-vector-representing-the-input-text.
    // Images come from a workflow API of another shape, not POST /images/generations:
    // https://docs.fireworks.ai/api-reference/generate-a-new-image-from-a-text-prompt.
    operations: { images: false }
  },
  deepseek: {
    baseUrl: "https://api.deepseek.com",
    apiKeyEnv: "DEEPSEEK_API_KEY",
    families: ["deepseek-*"],
    // The API is chat and FIM completions, models and balance: https://api-docs.deepseek.com/api/deepseek-api.
    operations: { embeddings: false, images: false }
  },
  xai: {
    baseUrl: "https://api.x.ai/v1",
    apiKeyEnv: "XAI_API_KEY",
    families: ["grok-*"],
    // POST /images/generations, where "quality, size or style are not supported":
    // https://docs.x.ai/docs/guides/image-generations.
    unsupported: { images: ["quality", "size", "style"] }
  },
  mistral: {
    baseUrl: "https://api.mistral.ai/v1",
    apiKeyEnv: "MISTRAL_API_KEY",
    families: [
      "mistral-*",
      "open-mistral-*",
      "open-mixtral-*",
      "codestral-*",
      "devstral-*",
      "magistral-*",
      "ministral-*",
      "pixtral-*"
    ],
    prefill: "prefix",
    // Embeddings at POST /v1/embeddings (https://docs.mistral.ai/api/endpoint/embeddings); images
    // only through an agent's tool (https://docs.mistral.ai/agents/tools/built-in/image_generation).
    operations: { images: false }
  },
  perplexity: { baseUrl: "https://api.perplexity.ai", apiKeyEnv: "PERPLEXITY_API_KEY", families: ["sonar", "sonar-*"] },
  openrouter: { baseUrl: "https://openrouter.ai/api/v1", apiKeyEnv: "OPENROUTER_API_KEY" },
  cerebras: { baseUrl: "https://api.cerebras.ai/v1", apiKeyEnv: "CEREBRAS_API_KEY" },
  deepinfra: { baseUrl: "https://api.deepinfra.com/v1/openai", apiKeyEnv: "DEEPINFRA_API_KEY" },
  moonshot: { baseUrl: "https://api.moonshot.ai/v1", apiKeyEnv: "MOONSHOT_API_KEY", families: ["kimi-*", "moonshot-*"] },
  novita: { baseUrl: "https://api.novita.ai/openai/v1", apiKeyEnv: "NOVITA_API_KEY" },
  "nvidia-nim": { baseUrl: "https://integrate.api.nvidia.com/v1", apiKeyEnv: "NVIDIA_NIM_API_KEY" },
  qwen: {
    baseUrl: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    apiKeyEnv: "QWEN_API_KEY",
    families: ["qwen*", "qwq-*", "qvq-*"]
  },
  sambanova: { baseUrl: "https://api.sambanova.ai/v1", apiKeyEnv: "SAMBANOVA_API_KEY" },
  databricks: { baseUrl: "${DATABRICKS_HOST}/serving-endpoints", apiKeyEnv: "DATABRICKS_TOKEN" },
  "hugging-face": { baseUrl: "https://router.huggingface.co/v1", apiKeyEnv: "HUGGING_FACE_API_KEY" },
  ollama: { baseUrl: "http://localhost:11434/v1" },
  "azure-foundry": {
    baseUrl: "${AZURE_FOUNDRY_ENDPOINT}/openai/v1",
    apiKeyEnv: "AZURE_FOUNDRY_API_KEY",
    apiKeyHeader: "api-key"
  },
  cloudflare: {
    baseUrl: "https://api.cloudflare.com/client/v4/accounts/${CLOUDFLARE_ACCOUNT_ID}/ai/v1",
    apiKeyEnv: "CLOUDFLARE_API_KEY",
    // OpenAI-compatible endpoints for chat completions and embeddings only:
    // https://developers.cloudflare.com/workers-ai/configuration/open-ai-compatibility.
    operations: { images: false }
  }
} as const satisfies Record<string, Preset>

/**
 * A preset's name: what the server configuration's `providers[].type` says, and the default
 * provider name.
 *
 * @since 0.1.0 @category Models
 */
export type Name = keyof typeof table

/**
 * Every preset by name.
 *
 * @since 0.1.0 @category Presets
 */
export const presets: { readonly [K in Name]: Preset } = table

/**
 * The preset names, in the table's order.
 *
 * @since 0.1.0 @category Presets
 */
export const names = Object.keys(table) as unknown as Arr.NonEmptyReadonlyArray<Name>

/** @since 0.1.0 @category Guards */
export const isName = (name: string): name is Name => Object.hasOwn(table, name)

/** The environment a preset's `${VARIABLE}`s are read from. @since 0.1.0 @category Models */
export type Environment = Readonly<Record<string, string | undefined>>

const variable = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/**
 * The environment variables a preset's default base URL is built from (empty for a fixed URL).
 *
 * @since 0.1.0 @category Presets
 */
export const variables = (name: Name): ReadonlyArray<string> =>
  Array.from(presets[name].baseUrl.matchAll(variable), (match) => match[1]!)

/**
 * A preset has no default base URL while a variable its `baseUrl` needs is unset.
 *
 * @since 0.1.0 @category Errors
 */
export class MissingBaseUrl extends Schema.TaggedError<MissingBaseUrl>("@switchyard/providers-openai/MissingBaseUrl")(
  "MissingBaseUrl",
  {
    preset: Schema.String,
    variables: Schema.Array(Schema.String)
  }
) {
  override get message() {
    const template = isName(this.preset) ? ` (${presets[this.preset].baseUrl})` : ""
    return `the ${this.preset} preset has no default base URL without ${
      this.variables.join(" and ")
    }${template}; set it, or give a base URL`
  }
}

/**
 * The preset's default base URL, its `${VARIABLE}`s filled from `env` (a trailing `/` of a value
 * is dropped, so `https://host/` and `https://host` give the same URL).
 *
 * @since 0.1.0 @category Presets
 */
export const defaultBaseUrl = (name: Name, env: Environment): Either.Either<string, MissingBaseUrl> => {
  const missing = variables(name).filter((v) => !env[v])
  return missing.length > 0
    ? Either.left(new MissingBaseUrl({ preset: name, variables: missing }))
    : Either.right(presets[name].baseUrl.replace(variable, (_, v: string) => env[v]!.replace(/\/+$/, "")))
}

/**
 * What a preset provider is configured with: `OpenAiProvider`'s options, each defaulting to the
 * preset's.
 *
 * @since 0.1.0 @category Models
 */
export interface Options extends Omit<OpenAiProvider.Options, "baseUrl"> {
  /** Default: the preset's name. */
  readonly name?: string
  /** Default: the preset's `baseUrl`, its `${VARIABLE}`s read from the environment given. */
  readonly baseUrl?: string | undefined
}

/**
 * Turns a preset and the user's options into `OpenAiProvider.Options`: the user's values win
 * (for `unsupported` and `operations`, per operation), the preset fills the rest. Fails only
 * when no base URL is given and the preset's default needs a variable `env` does not set.
 *
 * @since 0.1.0 @category Constructors
 */
export const options = (
  name: Name,
  user: Options,
  env: Environment = {}
): Either.Either<OpenAiProvider.Options, MissingBaseUrl> => {
  const preset = presets[name]
  return Either.map(
    user.baseUrl !== undefined ? Either.right(user.baseUrl) : defaultBaseUrl(name, env),
    (baseUrl): OpenAiProvider.Options => ({
      ...user,
      name: user.name ?? name,
      baseUrl,
      apiKeyHeader: user.apiKeyHeader ?? preset.apiKeyHeader,
      families: user.families ?? preset.families ?? [],
      prefill: user.prefill ?? preset.prefill,
      unsupported: { ...preset.unsupported, ...user.unsupported },
      operations: { ...preset.operations, ...user.operations }
    })
  )
}
