/**
 * The bundled server's configuration file: YAML or JSON, a superset of Ferro's `Config`,
 * decoded by Schema. Every error names the path of the bad field.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Capabilities from "@switchyard/core/Capabilities"
import * as Routing from "@switchyard/core/Routing"
import * as Simulation from "@switchyard/providers-mock/Simulation"
import * as Presets from "@switchyard/providers-openai/Presets"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as YAML from "yaml"
import { interpolate } from "./internal/interpolate.js"

const NonEmpty = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))

/** @since 0.1.0 @category Schemas */
export const ProviderConfig = Schema.Struct({
  /** What targets call `virtual_key` and what a `name/model` prefix selects. */
  name: NonEmpty.pipe(Schema.filter((s) => !s.includes("/") || "must not contain '/'")),
  /**
   * `openai`, `anthropic`, `gemini`, `vertex`, `azure-openai`, `bedrock`, `mock`, or an
   * OpenAI-compatible preset (`Presets.names`: `groq`, `together`, ...).
   */
  type: Schema.Literal("openai", "anthropic", "gemini", "vertex", "azure-openai", "bedrock", "mock", ...Presets.names),
  /**
   * Default: OpenAI's for `openai`; a preset's default URL, which for some (databricks,
   * azure-foundry, cloudflare) is built from environment variables and does not exist without them.
   */
  base_url: Schema.optional(Schema.String.pipe(Schema.filter((s) => URL.canParse(s) || "must be an absolute URL"))),
  api_key: Schema.optional(Schema.Redacted(Schema.String)),
  models: Schema.optional(Schema.Array(NonEmpty)),
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  timeout_ms: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /**
   * What the gateway does with a parameter this provider does not honour (see
   * `GET /v1/capabilities`): `warn` (default: left out, logged and named in the
   * `x-switchyard-dropped-params` header), `drop` (left out silently) or `reject` (a 400; in a
   * pool, another target that honours it serves).
   */
  unsupported_params: Schema.optional(Schema.Literal(...Capabilities.policies)),
  /**
   * `openai` and the presets: per operation, the canonical parameters the upstream does not
   * honour (`{ chat: [logprobs, seed] }`, for a vLLM server say), replacing a preset's own list
   * for that operation.
   */
  unsupported: Schema.optional(Schema.Struct({
    chat: Schema.optional(Schema.Array(Schema.Literal(...Capabilities.parameters.chat))),
    embeddings: Schema.optional(Schema.Array(Schema.Literal(...Capabilities.parameters.embeddings))),
    images: Schema.optional(Schema.Array(Schema.Literal(...Capabilities.parameters.images)))
  })),
  /** `openai` and the presets: `false` for an operation the upstream lacks (`{ images: false }`). */
  operations: Schema.optional(Schema.Struct({ embeddings: Schema.optional(Schema.Boolean), images: Schema.optional(Schema.Boolean) })),
  /**
   * How the upstream continues an assistant prefill (mid-stream failover continues a broken
   * answer only on providers that do): for OpenAI-compatible types `prefix` (Mistral, DeepSeek)
   * or `continue_final_message` (vLLM, SGLang); `anthropic` does natively, and `false` turns
   * that off (for models that refuse a prefill). The mock provider always does.
   */
  prefill: Schema.optional(Schema.Union(Schema.Literal("prefix", "continue_final_message"), Schema.Literal(false))),
  /**
   * `anthropic`, `gemini`, `vertex`: false translates requests from clients of the vendor's own
   * format instead of forwarding them as they came (the fast path, the default). `openai`:
   * whether the upstream serves the Responses API, whose clients' requests are then forwarded
   * (default: when the base URL is OpenAI's own).
   */
  passthrough: Schema.optional(Schema.Boolean),
  /** `azure-openai`, `gemini`, `vertex`: the API version (each has a current default). */
  api_version: Schema.optional(NonEmpty),
  /** `azure-openai`: model id -> deployment name (default: the model id). */
  deployments: Schema.optional(Schema.Record({ key: Schema.String, value: NonEmpty })),
  /** `azure-openai`: a Microsoft Entra ID bearer token, instead of `api_key`. */
  entra_token: Schema.optional(Schema.Redacted(Schema.String)),
  /** `vertex`: the Google Cloud project and location (`us-central1`, `global`, ...). */
  project: Schema.optional(NonEmpty),
  location: Schema.optional(NonEmpty),
  /** `vertex`: the service account's JSON key, e.g. `\${GOOGLE_SERVICE_ACCOUNT_JSON}`. */
  service_account: Schema.optional(Schema.Redacted(Schema.String)),
  /** `bedrock`: the AWS region (default AWS_REGION, then AWS_DEFAULT_REGION); keys come from AWS_* variables. */
  region: Schema.optional(NonEmpty),
  /** Only for `type: mock`. */
  simulation: Schema.optional(Simulation.OptionsSchema)
})
export type ProviderConfig = typeof ProviderConfig.Type

/** @since 0.1.0 @category Schemas */
export const ServerConfig = Schema.Struct({
  port: Schema.optional(Schema.Int.pipe(Schema.between(0, 65535))),
  host: Schema.optional(NonEmpty),
  /** Reserved for the admin API. */
  master_key: Schema.optional(Schema.Redacted(Schema.String)),
  max_body_bytes: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** How long in-flight requests may take to finish on SIGTERM before they are cut. Default 30 s. */
  shutdown_timeout_ms: Schema.optional(Schema.Int.pipe(Schema.positive()))
})

/**
 * An MCP server whose tools the gateway offers to models and runs (Ferro's fields, plus
 * `command` / `args` / `env` for a server run as a child process over stdio).
 *
 * @since 0.1.0 @category Schemas
 */
export const McpServerConfig = Schema.Struct({
  name: NonEmpty,
  /** The server's Streamable HTTP endpoint... */
  url: Schema.optional(NonEmpty),
  /** ...sent these headers (credentials: `Authorization: Bearer ${TOKEN}`), */
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** or the command that runs it over stdio. */
  command: Schema.optional(NonEmpty),
  args: Schema.optional(Schema.Array(Schema.String)),
  env: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** Only these of its tools are offered (absent: all). */
  allowed_tools: Schema.optional(Schema.Array(NonEmpty)),
  /** The most rounds of tool calls one request may take (the smallest of all servers'). Default 5. */
  max_call_depth: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** Each call's bound. Default 30. */
  timeout_seconds: Schema.optional(Schema.Number.pipe(Schema.positive()))
})
export type McpServerConfig = typeof McpServerConfig.Type

/** A section this version decodes but cannot honour yet: present and non-empty is an error. */
const notYetSupported = (what: string) =>
  Schema.optionalWith(
    Schema.Unknown.pipe(Schema.filter((u) =>
      u === null || (Array.isArray(u) && u.length === 0) ||
      `${what} are not supported by this version of Switchyard yet; remove the section`
    )),
    { exact: true }
  )

/** @since 0.1.0 @category Schemas */
export const FileConfig = Schema.Struct({
  ...Routing.RoutingConfig.fields,
  providers: Schema.optional(Schema.Array(ProviderConfig)),
  server: Schema.optional(ServerConfig),
  plugins: notYetSupported("plugins"),
  mcp_servers: Schema.optional(Schema.Array(McpServerConfig)),
  keys: notYetSupported("virtual keys"),
  state: notYetSupported("shared state stores"),
  storage: notYetSupported("storage backends")
})
export type FileConfig = typeof FileConfig.Type

/** The configuration the server runs: the file merged with the environment. @since 0.1.0 @category Models */
export interface ServerSettings {
  readonly routing: Routing.RoutingConfig
  readonly providers: ReadonlyArray<ProviderConfig>
  readonly mcpServers: ReadonlyArray<McpServerConfig>
  readonly port: number
  readonly host: string
  readonly maxBodyBytes: number
  readonly shutdownTimeoutMillis: number
}

/** @since 0.1.0 @category Errors */
export class ConfigError extends Schema.TaggedError<ConfigError>("@switchyard/server/ConfigError")("ConfigError", {
  source: Schema.String,
  problems: Schema.Array(Schema.String)
}) {
  override get message() {
    return `Invalid configuration in ${this.source}:\n${this.problems.map((p) => `  - ${p}`).join("\n")}`
  }
}

const decodeFile = Schema.decodeUnknown(FileConfig, { errors: "all", onExcessProperty: "error" })

/** The fields only some provider types read. */
const fieldTypes: ReadonlyArray<readonly [keyof ProviderConfig, ReadonlyArray<ProviderConfig["type"]>]> = [
  ["api_version", ["azure-openai", "gemini", "vertex"]],
  ["deployments", ["azure-openai"]],
  ["entra_token", ["azure-openai"]],
  ["project", ["vertex"]],
  ["location", ["vertex"]],
  ["service_account", ["vertex"]],
  ["region", ["bedrock"]],
  ["unsupported", ["openai", ...Presets.names]],
  ["operations", ["openai", ...Presets.names]]
]

/** What one provider entry of a given type needs or must not have. */
const typeSpecificProblems = (
  p: ProviderConfig,
  path: string,
  env: Readonly<Record<string, string | undefined>>
): Array<string> => {
  const problems: Array<string> = []
  for (const [field, types] of fieldTypes) {
    if (p[field] !== undefined && !types.includes(p.type)) {
      problems.push(`${path}.${field}: only for type ${types.join(" or ")}`)
    }
  }
  const required = (field: keyof ProviderConfig, why: string) => {
    if (p[field] === undefined) problems.push(`${path}.${field}: required for type ${p.type} (${why})`)
  }
  switch (p.type) {
    case "azure-openai":
      required("base_url", "the resource endpoint, https://<resource>.openai.azure.com")
      if (p.api_key !== undefined && p.entra_token !== undefined) {
        problems.push(`${path}.entra_token: give api_key or entra_token, not both`)
      }
      break
    case "vertex": {
      required("project", "the Google Cloud project id")
      required("location", "e.g. us-central1, or global")
      required("service_account", "the service account's JSON key")
      if (p.service_account !== undefined) {
        let key: unknown
        try {
          key = JSON.parse(Redacted.value(p.service_account))
        } catch {
          key = undefined
        }
        const usable = typeof key === "object" && key !== null && typeof (key as Record<string, unknown>).client_email === "string" &&
          typeof (key as Record<string, unknown>).private_key === "string"
        if (!usable) problems.push(`${path}.service_account: not a service account JSON key (client_email and private_key)`)
      }
      break
    }
    case "bedrock":
      if (p.region === undefined && !env.AWS_REGION && !env.AWS_DEFAULT_REGION) {
        problems.push(`${path}.region: required for type bedrock unless AWS_REGION or AWS_DEFAULT_REGION is set in the environment`)
      }
      if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) {
        problems.push(`${path}: type bedrock signs with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, which the environment does not both set`)
      }
      break
    default:
      break
  }
  return problems
}

const mcpProblems = (servers: ReadonlyArray<McpServerConfig>): Array<string> => {
  const problems: Array<string> = []
  const names = new Set<string>()
  servers.forEach((server, i) => {
    const at = `mcp_servers[${i}]`
    if (names.has(server.name)) problems.push(`${at}.name: '${server.name}' is used by another MCP server`)
    names.add(server.name)
    if ((server.url === undefined) === (server.command === undefined)) {
      problems.push(`${at}: give either url (Streamable HTTP) or command (stdio), not ${server.url === undefined ? "neither" : "both"}`)
    }
    if (server.url !== undefined && !isHttpUrl(server.url)) problems.push(`${at}.url: must be an absolute http(s) URL`)
    if (server.command === undefined && (server.args !== undefined || server.env !== undefined)) {
      problems.push(`${at}: args and env apply to a command (stdio) server`)
    }
    if (server.url === undefined && server.headers !== undefined) problems.push(`${at}.headers: apply to a url (HTTP) server`)
  })
  return problems
}

const crossCheck = (
  config: FileConfig,
  providers: ReadonlyArray<ProviderConfig>,
  env: Readonly<Record<string, string | undefined>>
): Array<string> => {
  const problems: Array<string> = []
  const names = new Set<string>()
  providers.forEach((p, i) => {
    if (names.has(p.name)) problems.push(`providers[${i}].name: '${p.name}' is used by another provider`)
    names.add(p.name)
    if (p.type !== "mock" && p.simulation !== undefined) {
      problems.push(`providers[${i}].simulation: only providers of type mock are simulated`)
    }
    problems.push(...typeSpecificProblems(p, `providers[${i}]`, env))
    if (p.passthrough !== undefined && !["openai", "anthropic", "gemini", "vertex"].includes(p.type)) {
      problems.push(`providers[${i}].passthrough: applies to openai, anthropic, gemini and vertex, whose clients' own requests can be forwarded`)
    }
    if (p.type === "mock" && p.prefill !== undefined) {
      problems.push(`providers[${i}].prefill: the mock provider always continues a prefill; remove the field`)
    } else if (p.type === "anthropic" && p.prefill !== undefined && p.prefill !== false) {
      problems.push(`providers[${i}].prefill: anthropic continues a prefill natively; only false (to turn it off) applies`)
    } else if (p.type !== "anthropic" && p.prefill === false) {
      problems.push(`providers[${i}].prefill: false applies to anthropic only; leave the field out instead`)
    }
  })
  problems.push(...Routing.check(config, [...names]))
  problems.push(...mcpProblems(config.mcp_servers ?? []))
  return problems
}

const isHttpUrl = (url: string): boolean => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol)

/** An environment provider and the variables its base URL was built from. */
interface EnvironmentEntry {
  readonly provider: ProviderConfig
  readonly urlFrom: ReadonlyArray<string>
}

const environmentEntries = (env: Readonly<Record<string, string | undefined>>): Array<EnvironmentEntry> => {
  const entries: Array<EnvironmentEntry> = []
  if (env.OPENAI_API_KEY) {
    entries.push({
      provider: {
        name: "openai",
        type: "openai",
        api_key: Redacted.make(env.OPENAI_API_KEY),
        ...(env.OPENAI_BASE_URL ? { base_url: env.OPENAI_BASE_URL } : {})
      },
      urlFrom: ["OPENAI_BASE_URL"]
    })
  }
  if (env.GEMINI_API_KEY) {
    entries.push({ provider: { name: "gemini", type: "gemini", api_key: Redacted.make(env.GEMINI_API_KEY) }, urlFrom: [] })
  }
  if (env.ANTHROPIC_API_KEY) {
    entries.push({
      provider: {
        name: "anthropic",
        type: "anthropic",
        api_key: Redacted.make(env.ANTHROPIC_API_KEY),
        ...(env.ANTHROPIC_BASE_URL ? { base_url: env.ANTHROPIC_BASE_URL } : {})
      },
      urlFrom: ["ANTHROPIC_BASE_URL"]
    })
  }
  for (const name of Presets.names) {
    const keyVariable = Presets.presets[name].apiKeyEnv
    const key = keyVariable === undefined ? undefined : env[keyVariable]
    const baseUrl = Presets.defaultBaseUrl(name, env)
    // As in Ferro, a preset whose URL needs more than the key (a host, an account id) is added
    // only when that is set too.
    if (!key || Either.isLeft(baseUrl)) continue
    entries.push({
      provider: { name, type: name, api_key: Redacted.make(key), base_url: baseUrl.right },
      urlFrom: Presets.variables(name)
    })
  }
  return entries
}

/**
 * Providers that come from the environment alone, as in Ferro: `OPENAI_API_KEY` (with
 * `OPENAI_BASE_URL`) adds an `openai` provider, `ANTHROPIC_API_KEY` (with `ANTHROPIC_BASE_URL`)
 * an `anthropic` one, `GEMINI_API_KEY` a `gemini` one, and each preset's key variable (`GROQ_API_KEY`,
 * `DATABRICKS_TOKEN`, ... see `Presets.presets`) one named after the preset, with its default
 * base URL; a preset whose URL needs another variable (`DATABRICKS_HOST`, `CLOUDFLARE_ACCOUNT_ID`,
 * `AZURE_FOUNDRY_ENDPOINT`) is added only when that is set too. A provider the file already
 * names is not added. Ollama takes no key, so it comes only from the file.
 *
 * @since 0.1.0 @category Environment
 */
export const environmentProviders = (env: Readonly<Record<string, string | undefined>>): Array<ProviderConfig> =>
  environmentEntries(env).map((entry) => entry.provider)

/**
 * Fills in a preset provider's default base URL, or says what to set when it has none.
 */
const withDefaultBaseUrl = (
  p: ProviderConfig,
  path: string,
  env: Readonly<Record<string, string | undefined>>,
  problems: Array<string>
): ProviderConfig => {
  if (p.base_url !== undefined || !Presets.isName(p.type)) return p
  const template = Presets.presets[p.type].baseUrl
  return Either.match(Presets.defaultBaseUrl(p.type, env), {
    onLeft: (missing) => {
      problems.push(
        `${path}.base_url: required for type ${p.type} unless ${missing.variables.join(" and ")} ${
          missing.variables.length > 1 ? "are" : "is"
        } set in the environment (the default is ${template})`
      )
      return p
    },
    onRight: (url) => {
      if (isHttpUrl(url)) return { ...p, base_url: url }
      problems.push(
        `${path}.base_url: not given, and the default for type ${p.type}, '${url}' (${template}), is not an absolute http(s) URL`
      )
      return p
    }
  })
}

/** The embedded default: the simulated provider. @since 0.1.0 @category Defaults */
export const defaultProviders: ReadonlyArray<ProviderConfig> = [{ name: "mock", type: "mock" }]

/**
 * Decodes an already parsed document (after `${ENV}` interpolation) into the settings the
 * server runs with.
 *
 * @since 0.1.0 @category Decoding
 */
export const fromDocument = (
  document: unknown,
  source: string,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<ServerSettings, ConfigError> => {
  const { unset, value } = interpolate(document ?? {}, env)
  if (unset.length > 0) {
    return Effect.fail(new ConfigError({
      source,
      problems: unset.map((u) => `${u.path}: environment variable ${u.variable} is not set`)
    }))
  }
  return decodeFile(value).pipe(
    Effect.mapError((error) =>
      new ConfigError({
        source,
        problems: Routing.problemsOf(error)
      })
    ),
    Effect.flatMap((config) => {
      const problems: Array<string> = []
      const fromFile = (config.providers ?? (document === undefined ? defaultProviders : [])).map((p, i) =>
        withDefaultBaseUrl(p, `providers[${i}]`, env, problems)
      )
      const fromEnvironment = environmentEntries(env).filter((e) => !fromFile.some((f) => f.name === e.provider.name))
      for (const { provider, urlFrom } of fromEnvironment) {
        if (provider.base_url !== undefined && !isHttpUrl(provider.base_url)) {
          problems.push(
            `${urlFrom.join(", ")}: the ${provider.name} provider's base URL '${provider.base_url}' is not an absolute http(s) URL`
          )
        }
      }
      const providers = [...fromFile, ...fromEnvironment.map((e) => e.provider)]
      problems.push(...crossCheck(config, providers, env))
      if (providers.length === 0) {
        problems.push("providers: none configured, and no provider's key (OPENAI_API_KEY, GROQ_API_KEY, ...) in the environment")
      }
      if (problems.length > 0) return Effect.fail(new ConfigError({ source, problems }))
      const port = env.PORT !== undefined && env.PORT !== "" ? Number(env.PORT) : config.server?.port ?? 8080
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        return Effect.fail(new ConfigError({ source: "environment", problems: [`PORT: '${env.PORT}' is not a port number`] }))
      }
      return Effect.succeed({
        routing: {
          ...(config.strategy ? { strategy: config.strategy } : {}),
          ...(config.targets ? { targets: config.targets } : {}),
          ...(config.aliases ? { aliases: config.aliases } : {}),
          ...(config.timeouts ? { timeouts: config.timeouts } : {})
        },
        providers,
        mcpServers: config.mcp_servers ?? [],
        port,
        host: config.server?.host ?? "0.0.0.0",
        maxBodyBytes: config.server?.max_body_bytes ?? 10 * 1024 * 1024,
        shutdownTimeoutMillis: config.server?.shutdown_timeout_ms ?? 30_000
      })
    })
  )
}

/**
 * Reads the configuration file (YAML, or JSON, which YAML parses too), or the embedded default
 * when no path is given.
 *
 * @since 0.1.0 @category Decoding
 */
export const load = (
  path: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<ServerSettings, ConfigError, FileSystem.FileSystem> =>
  path === undefined
    ? fromDocument(undefined, "the embedded default", env)
    : FileSystem.FileSystem.pipe(
      Effect.flatMap((fs) => fs.readFileString(path)),
      Effect.mapError((e) => new ConfigError({ source: path, problems: [`cannot read the file: ${e.message}`] })),
      Effect.flatMap((text) =>
        Effect.try({
          try: () => YAML.parse(text) as unknown,
          catch: (e) => new ConfigError({ source: path, problems: [`not valid YAML or JSON: ${(e as Error).message}`] })
        })
      ),
      Effect.flatMap((document) => fromDocument(document ?? {}, path, env))
    )
