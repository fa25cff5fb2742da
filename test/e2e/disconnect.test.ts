import { MockUpstream } from "@switchyard/providers-mock"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningGateway, startGateway } from "../utils/Gateway.js"

describe("client disconnect", () => {
  let upstream: MockUpstream.Running
  let gateway: RunningGateway

  beforeAll(async () => {
    // A slow stream: 200 chunks 50 ms apart, ten seconds if nobody stops it.
    upstream = await MockUpstream.start({ tokens: 200, chunks: 200, chunkDelay: 50 })
    gateway = await startGateway({ config: `providers: [{ name: up, type: openai, base_url: "${upstream.url}" }]` })
  })
  afterAll(async () => {
    await gateway?.stop()
    await upstream?.close()
  })

  it("aborts the upstream request within a second of the client going away mid-stream", async () => {
    const controller = new AbortController()
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "long story" }], stream: true }),
      signal: controller.signal
    })
    const reader = response.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /)
    expect(upstream.aborted()).toBe(0)

    controller.abort()
    const abortedAt = performance.now()
    while (upstream.aborted() === 0 && performance.now() - abortedAt < 2000) {
      await new Promise((r) => setTimeout(r, 10))
    }
    const elapsed = performance.now() - abortedAt
    console.info(`upstream aborted ${elapsed.toFixed(1)} ms after the client disconnected`)
    expect(upstream.aborted()).toBe(1)
    expect(elapsed).toBeLessThan(1000)
  })
})
