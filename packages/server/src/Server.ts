/**
 * The bundled server: settings -> Layers. Everything here is also what a custom deployment
 * composes by hand.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Gateway from "@switchyard/core/Gateway"
import type * as ProviderRegistry from "@switchyard/core/ProviderRegistry"
import * as HttpApi from "@switchyard/http/HttpApi"
import * as AnthropicProvider from "@switchyard/providers-anthropic/AnthropicProvider"
import * as AzureOpenAiProvider from "@switchyard/providers-azure-openai/AzureOpenAiProvider"
import * as BedrockProvider from "@switchyard/providers-bedrock/BedrockProvider"
import * as GeminiProvider from "@switchyard/providers-gemini/GeminiProvider"
import * as VertexProvider from "@switchyard/providers-gemini/VertexProvider"
import * as MockProvider from "@switchyard/providers-mock/MockProvider"
import * as OpenAiProvider from "@switchyard/providers-openai/OpenAiProvider"
import * as Presets from "@switchyard/providers-openai/Presets"
import * as McpTools from "@switchyard/mcp/McpTools"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { createServer, type Server } from "node:http"
import type { McpServerConfig, ProviderConfig, ServerSettings } from "./Config.js"

/** The fields every HTTP adapter takes alike. */
const commonOptions = (p: ProviderConfig) => ({
  name: p.name,
  ...(p.base_url !== undefined ? { baseUrl: p.base_url } : {}),
  ...(p.models !== undefined ? { models: p.models } : {}),
  ...(p.headers !== undefined ? { headers: p.headers } : {}),
  ...(p.timeout_ms !== undefined ? { timeout: p.timeout_ms } : {}),
  ...(p.unsupported_params !== undefined ? { unsupportedParams: p.unsupported_params } : {}),
  ...(p.passthrough !== undefined ? { passthrough: p.passthrough } : {})
})

/** What `openai` and the preset types share: the file's fields as `OpenAiProvider` options. */
const openAiOptions = (p: ProviderConfig) => ({
  ...commonOptions(p),
  apiKey: p.api_key,
  ...(p.prefill !== undefined && p.prefill !== false ? { prefill: p.prefill } : {}),
  ...(p.unsupported !== undefined ? { unsupported: p.unsupported } : {}),
  ...(p.operations !== undefined ? { operations: p.operations } : {})
})

/**
 * The provider a configuration entry describes. A preset's `base_url` has been filled in by
 * `Config.load`, which refuses a preset without one, so a missing one here is a bug.
 *
 * @since 0.1.0 @category Layers
 */
export const providerLayer = (
  p: ProviderConfig,
  /** Where `bedrock` reads its AWS credentials (and region) from. */
  env: Readonly<Record<string, string | undefined>> = process.env
): Layer.Layer<never, never, ProviderRegistry.ProviderRegistry> => {
  switch (p.type) {
    case "openai":
      return OpenAiProvider.layer(openAiOptions(p))
    case "anthropic":
      return AnthropicProvider.layer({ ...commonOptions(p), apiKey: p.api_key, ...(p.prefill === false ? { prefill: false } : {}) })
    case "gemini":
      return GeminiProvider.layer({ ...commonOptions(p), apiKey: p.api_key, ...(p.api_version !== undefined ? { apiVersion: p.api_version } : {}) })
    case "vertex":
      return VertexProvider.layer({
        ...commonOptions(p),
        project: p.project!,
        location: p.location!,
        serviceAccount: p.service_account!,
        ...(p.api_version !== undefined ? { apiVersion: p.api_version } : {})
      }).pipe(Layer.orDie)
    case "azure-openai":
      return AzureOpenAiProvider.layer({
        ...commonOptions(p),
        endpoint: p.base_url!,
        apiKey: p.api_key,
        entraToken: p.entra_token,
        deployments: p.deployments,
        apiVersion: p.api_version
      })
    case "bedrock":
      return BedrockProvider.layer({ ...commonOptions(p), env, ...(p.region !== undefined ? { region: p.region } : {}) }).pipe(
        Layer.orDie
      )
    case "mock":
      return MockProvider.layer({
        name: p.name,
        ...(p.models !== undefined ? { models: p.models } : {}),
        ...p.simulation
      })
    default:
      return Layer.unwrapEffect(
        Effect.map(Effect.orDie(Presets.options(p.type, openAiOptions(p))), OpenAiProvider.layer)
      )
  }
}

/**
 * The gateway with the configured providers. `Config.load` has already checked the routing
 * against the providers, so a failure here is a bug.
 *
 * @since 0.1.0 @category Layers
 */
export const gatewayLayer = (settings: ServerSettings): Layer.Layer<Gateway.Gateway> =>
  Gateway.layer(settings.routing).pipe(
    Layer.orDie,
    Layer.provide(Layer.mergeAll(Layer.empty, ...settings.providers.map((p) => providerLayer(p)))),
    Layer.provide(settings.mcpServers.length === 0 ? Layer.empty : McpTools.layer({ servers: settings.mcpServers.map(mcpServer) })),
    Layer.provide(Gateway.defaults)
  )

/** An `mcp_servers` entry as `McpTools` options. */
const mcpServer = (s: McpServerConfig): McpTools.ServerOptions => ({
  name: s.name,
  url: s.url,
  headers: s.headers,
  command: s.command,
  args: s.args,
  env: s.env,
  allowedTools: s.allowed_tools,
  maxCallDepth: s.max_call_depth,
  timeout: s.timeout_seconds === undefined ? undefined : Duration.seconds(s.timeout_seconds)
})

/**
 * Graceful shutdown. The platform's release stops accepting and waits for open connections,
 * but a keep-alive connection whose request finishes after that stays open until Node's
 * keep-alive timeout. So while draining, idle connections are closed as they appear, and after
 * `deadlineMillis` whatever is still open (a long stream) is cut.
 */
const drainOnShutdown = (server: Server, deadlineMillis: number) =>
  Layer.scopedDiscard(Effect.addFinalizer(() =>
    Effect.sync(() => {
      const idle = setInterval(() => server.closeIdleConnections(), 50).unref()
      const deadline = setTimeout(() => server.closeAllConnections(), deadlineMillis).unref()
      server.once("close", () => {
        clearInterval(idle)
        clearTimeout(deadline)
      })
    })
  ))

/**
 * `HttpServer.serve` with nothing in the requests' Context but the server, the gateway and the
 * server's Scope. The platform copies a request's Context several times per request, and the
 * CLI's Node services (file system, path, terminal, command executor, worker manager), which
 * the API never uses, would otherwise be copied along every time.
 */
const serveApi = (app: HttpApp.Default<never, Gateway.Gateway | Scope.Scope>) =>
  Layer.scopedDiscard(
    Effect.flatMap(Effect.context<HttpServer.HttpServer | Gateway.Gateway | Scope.Scope>(), (context) =>
      Effect.mapInputContext(
        HttpServer.serveEffect(app),
        (_: Context.Context<never>) => Context.pick(HttpServer.HttpServer, Gateway.Gateway, Scope.Scope)(context)
      ))
  )

/**
 * Serves the HTTP API on `settings.host:settings.port`. Tracing is off: no exporter is
 * configurable yet, and spans nobody exports cost CPU on every request (the platform's server
 * span, with its header and URL attributes, included).
 *
 * @since 0.1.0 @category Layers
 */
export const layer = (settings: ServerSettings) => {
  const server = createServer()
  return serveApi(HttpApi.make({ maxBodyBytes: settings.maxBodyBytes })).pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provide(Layer.setTracerEnabled(false)),
    Layer.merge(drainOnShutdown(server, settings.shutdownTimeoutMillis)),
    Layer.tap(() =>
      Effect.logInfo(`Providers: ${settings.providers.map((p) => `${p.name} (${p.type})`).join(", ")}`)
    ),
    HttpServer.withLogAddress,
    Layer.provide(gatewayLayer(settings)),
    // The server alone, not `layer`'s file system, path and platform services: the API serves
    // no files, and every service in the request's Context is copied per request.
    Layer.provide(NodeHttpServer.layerServer(() => server, { port: settings.port, host: settings.host }))
  )
}
