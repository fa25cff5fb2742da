/**
 * Embeddings, images and the unsupported-parameter policy end to end: the official `openai`
 * SDK, pointed at the real bundled server, in front of one loopback upstream that speaks every
 * vendor's format on that vendor's paths:
 *
 * - OpenAI `POST /v1/embeddings` and `/v1/images/generations`
 *   (https://platform.openai.com/docs/api-reference/embeddings/create,
 *   https://platform.openai.com/docs/api-reference/images/create); Azure OpenAI the same bodies
 *   on `/openai/deployments/{deployment}/...?api-version=`
 *   (https://learn.microsoft.com/azure/ai-services/openai/reference);
 * - Gemini API `models/{model}:batchEmbedContents` (https://ai.google.dev/api/embeddings) and
 *   Imagen `models/{model}:predict` (https://ai.google.dev/gemini-api/docs/imagen);
 * - Vertex AI `publishers/google/models/{model}:predict` for text embeddings
 *   (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api)
 *   and Imagen (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/imagen-api),
 *   with a token from Google's OAuth endpoint at `/token`;
 * - Bedrock `POST /model/{modelId}/invoke` for Titan Text Embeddings V2
 *   (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html)
 *   and Cohere Embed v3 (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html);
 * - Anthropic `POST /v1/messages` (https://platform.claude.com/docs/en/api/messages), for the
 *   policy.
 */
import OpenAI from "openai"
import { generateKeyPairSync } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "../utils/Gateway.js"

interface Received {
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Record<string, any>
}

/** The vector the upstream gives its `i`th input: exact in float32, so base64 round trips are exact. */
const vector = (i: number) => [i + 0.5, -0.25, 1]

/** A 1x1 PNG. */
const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

const float32Base64 = (values: ReadonlyArray<number>) => Buffer.from(new Float32Array(values).buffer).toString("base64")

const answer = (path: string, body: Record<string, any>): unknown => {
  if (path === "/token") return { access_token: "ya29.e2e", expires_in: 3599, token_type: "Bearer" }
  if (path === "/v1/embeddings" || /^\/openai\/deployments\/[^/]+\/embeddings\?/.test(path)) {
    const inputs: Array<unknown> = Array.isArray(body.input) ? body.input : [body.input]
    return {
      object: "list",
      data: inputs.map((_, i) => ({
        object: "embedding",
        index: i,
        embedding: body.encoding_format === "base64" ? float32Base64(vector(i)) : vector(i)
      })),
      model: body.model ?? "text-embedding-3-small",
      usage: { prompt_tokens: 5, total_tokens: 5 }
    }
  }
  if (path === "/v1/images/generations" || /^\/openai\/deployments\/[^/]+\/images\/generations\?/.test(path)) {
    return { created: 1_700_000_000, data: [{ b64_json: png }], usage: { input_tokens: 9, output_tokens: 272, total_tokens: 281 } }
  }
  if (path.endsWith(":batchEmbedContents")) {
    return { embeddings: (body.requests as Array<unknown>).map((_, i) => ({ values: vector(i) })) }
  }
  if (path.endsWith(":predict") && path.includes("imagen")) {
    return { predictions: [{ bytesBase64Encoded: png, mimeType: "image/png" }] }
  }
  if (path.endsWith(":predict")) {
    return {
      predictions: (body.instances as Array<unknown>).map((_, i) => ({
        embeddings: { values: vector(i), statistics: { token_count: 2, truncated: false } }
      }))
    }
  }
  if (path.startsWith("/model/amazon.titan-embed-text-v2")) {
    return { embedding: vector(body.inputText === "first text" ? 0 : 1), inputTextTokenCount: 3 }
  }
  if (path.startsWith("/model/cohere.embed")) {
    return { id: "emb-1", response_type: "embeddings_floats", texts: body.texts, embeddings: (body.texts as Array<unknown>).map((_, i) => vector(i)) }
  }
  if (path === "/v1/messages") {
    return {
      id: "msg_01",
      type: "message",
      role: "assistant",
      model: body.model,
      content: [{ type: "text", text: "Hi." }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 2 }
    }
  }
  return undefined
}

const startUpstream = () => {
  const received: Array<Received> = []
  const server = Http.createServer((req, res) => {
    let raw = ""
    req.on("data", (d) => (raw += d))
    req.on("end", () => {
      const path = req.url ?? "/"
      // Model discovery lists models at start: nothing is listed here.
      if (req.method !== "POST") return void res.writeHead(404).end()
      const body = path === "/token" ? {} : JSON.parse(raw) as Record<string, any>
      if (path !== "/token") received.push({ path, headers: req.headers, body })
      const reply = answer(path, body)
      if (reply === undefined) return void res.writeHead(404, { "content-type": "application/json" }).end("{}")
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify(reply))
    })
  })
  return new Promise<{ url: string; received: Array<Received>; close: () => Promise<void> }>((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({ url: `http://127.0.0.1:${port}`, received, close: () => new Promise((done) => server.close(() => done())) })
    })
  )
}

let upstream: Awaited<ReturnType<typeof startUpstream>>
let gateway: RunningGateway
let client: OpenAI

beforeAll(async () => {
  upstream = await startUpstream()
  const serviceAccount = JSON.stringify({
    type: "service_account",
    client_email: "gateway@e2e-project.iam.gserviceaccount.com",
    private_key: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }),
    token_uri: `${upstream.url}/token`
  })
  const base = upstream.url
  gateway = await startGateway({
    config: `
providers:
  - { name: openai, type: openai, base_url: "${base}/v1", api_key: sk-openai-test }
  - { name: azure, type: azure-openai, base_url: "${base}", api_key: azure-test-key, deployments: { text-embedding-3-small: emb-prod, gpt-image-1: img-prod } }
  - { name: gemini, type: gemini, base_url: "${base}", api_key: gemini-test-key }
  - { name: vertex, type: vertex, base_url: "${base}", project: e2e-project, location: us-central1, service_account: "\${GOOGLE_SERVICE_ACCOUNT_JSON}" }
  - { name: bedrock, type: bedrock, base_url: "${base}", region: us-east-1 }
  - { name: claude, type: anthropic, base_url: "${base}", api_key: sk-ant-test }
  - { name: claude-strict, type: anthropic, base_url: "${base}", api_key: sk-ant-test, unsupported_params: reject }
  - { name: mock, type: mock }
`,
    env: {
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      GOOGLE_SERVICE_ACCOUNT_JSON: serviceAccount
    }
  })
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "not-needed", maxRetries: 0 })
}, 30_000)

afterAll(async () => {
  await gateway?.stop()
  await upstream?.close()
})

const sentTo = (prefix: string) => upstream.received.filter((r) => r.path.startsWith(prefix))

describe("embeddings: the openai SDK gets one answer shape from every provider that embeds", () => {
  const models = [
    "openai/text-embedding-3-small",
    "azure/text-embedding-3-small",
    "gemini/text-embedding-004",
    "vertex/text-embedding-005",
    "bedrock/amazon.titan-embed-text-v2:0",
    "bedrock/cohere.embed-english-v3"
  ]

  it("two inputs, asked as the SDK asks (base64), read back as the same floats from each", async () => {
    const answers = await Promise.all(models.map((model) =>
      client.embeddings.create({ model, input: ["first text", "second"] }).withResponse()
    ))
    for (const [i, { data, response }] of answers.entries()) {
      expect(response.headers.get("x-switchyard-provider"), models[i]).toBe(models[i]!.split("/")[0])
      expect(data.object).toBe("list")
      expect(data.model).toBe(models[i]!.split("/")[1])
      expect(data.data.map((d) => [d.object, d.index, d.embedding])).toEqual([
        ["embedding", 0, vector(0)],
        ["embedding", 1, vector(1)]
      ])
      expect(Object.keys(data.usage).sort()).toEqual(["prompt_tokens", "total_tokens"])
    }
    expect(answers.map(({ data }) => data.usage.prompt_tokens)).toEqual([5, 5, 0, 4, 6, 0])

    // Each vendor was asked in its own format.
    expect(sentTo("/v1/embeddings")[0]!.body).toMatchObject({ model: "text-embedding-3-small", encoding_format: "base64" })
    const toAzure = sentTo("/openai/deployments/emb-prod/embeddings")[0]!
    expect(toAzure.headers["api-key"]).toBe("azure-test-key")
    const toGemini = sentTo("/v1beta/models/text-embedding-004:batchEmbedContents")[0]!
    expect(toGemini.headers["x-goog-api-key"]).toBe("gemini-test-key")
    expect(toGemini.body.requests.map((r: any) => [r.model, r.content.parts[0].text])).toEqual([
      ["models/text-embedding-004", "first text"],
      ["models/text-embedding-004", "second"]
    ])
    const toVertex = sentTo("/v1/projects/e2e-project/locations/us-central1/publishers/google/models/text-embedding-005:predict")[0]!
    expect(toVertex.headers.authorization).toBe("Bearer ya29.e2e")
    expect(toVertex.body.instances.map((i: any) => i.content)).toEqual(["first text", "second"])
    const toTitan = sentTo("/model/amazon.titan-embed-text-v2%3A0/invoke")
    expect(toTitan.map((r) => r.body.inputText).sort()).toEqual(["first text", "second"])
    expect(toTitan[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\//)
    expect(sentTo("/model/cohere.embed-english-v3/invoke")[0]!.body).toMatchObject({
      texts: ["first text", "second"],
      input_type: "search_document"
    })
  })

  it("floats when asked for floats; the simulator embeds too", async () => {
    const floats = await client.embeddings.create({ model: "gemini/text-embedding-004", input: "x", encoding_format: "float" })
    expect(floats.data[0]!.embedding).toEqual(vector(0))
    const simulated = await client.embeddings.create({ model: "mock-embed", input: ["a", "a", "b"], dimensions: 8 })
    const [a1, a2, b] = simulated.data.map((d) => d.embedding)
    expect(a1).toHaveLength(8)
    expect(a1).toEqual(a2)
    expect(b).not.toEqual(a1)
  })

  it("a model whose provider makes no embeddings is a 404 in OpenAI's envelope", async () => {
    const error = await client.embeddings.create({ model: "claude/claude-sonnet-4-5", input: "x" }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.NotFoundError)
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found")
    expect((error as Error).message).toContain("'claude', which does not make embeddings")
  })
})

describe("images: one answer shape from every provider that makes them", () => {
  it("b64_json from OpenAI, Azure OpenAI, Imagen on the Gemini API and on Vertex AI, and the simulator", async () => {
    const models = ["openai/gpt-image-1", "azure/gpt-image-1", "gemini/imagen-4.0-generate-001", "vertex/imagen-4.0-generate-001", "mock/mock-image"]
    const answers = await Promise.all(models.map((model) =>
      client.images.generate({ model, prompt: "a lighthouse at dawn", n: 1, size: "1024x1024" })
    ))
    for (const data of answers) {
      expect(typeof data.created).toBe("number")
      expect(data.data).toHaveLength(1)
      expect(Buffer.from(data.data![0]!.b64_json!, "base64").subarray(1, 4).toString()).toBe("PNG")
    }
    expect(answers[0]!.usage?.total_tokens).toBe(281)
    const toImagen = sentTo("/v1beta/models/imagen-4.0-generate-001:predict")[0]!
    expect(toImagen.body).toMatchObject({ instances: [{ prompt: "a lighthouse at dawn" }], parameters: { sampleCount: 1, aspectRatio: "1:1" } })
    expect(sentTo("/openai/deployments/img-prod/images/generations")).toHaveLength(1)
  })
})

describe("unsupported parameters", () => {
  it("warn (the default): the parameter is left out, the answer says which in x-switchyard-dropped-params", async () => {
    const { data, response } = await client.chat.completions.create({
      model: "claude/claude-sonnet-4-5",
      messages: [{ role: "user", content: "Hi" }],
      seed: 7,
      temperature: 0.2
    }).withResponse()
    expect(data.choices[0]!.message.content).toBe("Hi.")
    expect(response.headers.get("x-switchyard-dropped-params")).toBe("seed")
    const sent = sentTo("/v1/messages").at(-1)!.body
    expect(sent.temperature).toBe(0.2)
    expect(sent).not.toHaveProperty("seed")
  })

  it("reject: a 400 unsupported_parameter naming it, and nothing sent upstream", async () => {
    const before = sentTo("/v1/messages").length
    const error = await client.chat.completions.create({
      model: "claude-strict/claude-sonnet-4-5",
      messages: [{ role: "user", content: "Hi" }],
      seed: 7
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.BadRequestError)
    const bad = error as InstanceType<typeof OpenAI.BadRequestError>
    expect(bad.code).toBe("unsupported_parameter")
    expect(bad.param).toBe("seed")
    expect(bad.message).toContain("Provider 'claude-strict' does not support the parameter 'seed'")
    expect(sentTo("/v1/messages").length).toBe(before)
  })

  it("GET /v1/capabilities lists every provider's support table and policy", async () => {
    const res = await fetch(`${gateway.url}/v1/capabilities`)
    expect(res.status).toBe(200)
    const rows = (await res.json() as { data: Array<any> }).data
    const byName = Object.fromEntries(rows.map((r) => [r.provider, r]))
    expect(Object.keys(byName)).toEqual(["openai", "azure", "gemini", "vertex", "bedrock", "claude", "claude-strict", "mock"])
    expect(byName["claude-strict"].unsupported_params).toBe("reject")
    expect(byName["claude"].unsupported_params).toBe("warn")
    expect(byName["claude"].operations.chat.parameters.seed).toBe("unsupported")
    expect(byName["claude"].operations.chat.parameters.response_format).toBe("partial: json_schema only")
    expect(byName["claude"].operations.embeddings).toBeNull()
    expect(byName["openai"].operations.chat.parameters.seed).toBe("supported")
    expect(byName["openai"].operations.chat.forwards_unknown_fields).toBe(true)
    expect(byName["bedrock"].operations.embeddings).not.toBeNull()
    expect(byName["bedrock"].operations.images).toBeNull()
    expect(byName["gemini"].operations.images.parameters.response_format).toMatch(/^partial: /)
  })
})
