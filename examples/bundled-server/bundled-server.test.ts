import { startGateway } from "@switchyard/test/utils/Gateway"
import { readFileSync } from "node:fs"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

describe("example: the bundled server from gateway.yaml", () => {
  let gateway: Awaited<ReturnType<typeof startGateway>>
  beforeAll(async () => {
    gateway = await startGateway({ config: readFileSync(new URL("gateway.yaml", import.meta.url), "utf8") })
  })
  afterAll(() => gateway?.stop())

  it("answers through the alias, falling back from the failing primary", async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "not-needed" })
    const { data, response } = await client.chat.completions
      .create({ model: "fast", messages: [{ role: "user", content: "hello" }] })
      .withResponse()
    expect(response.headers.get("x-switchyard-provider")).toBe("backup")
    // Two attempts on the primary (its retry), then the backup.
    expect(response.headers.get("x-switchyard-attempts")).toBe("3")
    expect(data.model).toBe("gpt-4o-mini")
    expect(data.usage?.completion_tokens).toBe(12)
  })

  it("skips the primary once its circuit is open", async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "not-needed" })
    const { response } = await client.chat.completions
      .create({ model: "fast", messages: [{ role: "user", content: "hello again" }] })
      .withResponse()
    expect(response.headers.get("x-switchyard-provider")).toBe("backup")
    expect(response.headers.get("x-switchyard-attempts")).toBe("1")
  })

  it("streams", async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "not-needed" })
    const stream = await client.chat.completions.create({
      model: "mock-1",
      messages: [{ role: "user", content: "hello" }],
      stream: true
    })
    let text = ""
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
    expect(text.split(" ").length).toBe(12)
  })
})
