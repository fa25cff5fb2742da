/**
 * The bundled program as an operator runs it: `switchyard serve`, with and without a config.
 */
import { afterAll, describe, expect, it } from "vitest"
import { type RunningGateway, runCli, startGateway, writeConfig } from "../utils/Gateway.js"

describe("switchyard serve", () => {
  const running: Array<RunningGateway> = []
  afterAll(() => Promise.all(running.map((g) => g.stop("SIGKILL"))))

  it("the embedded default (the README's start command) serves a simulated answer, JSON and streaming", async () => {
    const gateway = await startGateway()
    running.push(gateway)
    const request = (stream: boolean) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "mock-1", messages: [{ role: "user", content: "hello" }], stream })
      })
    const json = await (await request(false)).json() as { choices: Array<{ message: { content: string } }> }
    expect(json.choices[0]?.message.content).toContain("simulated answer")
    const sse = await (await request(true)).text()
    expect(sse.startsWith("data: {")).toBe(true)
    expect(sse.endsWith("data: [DONE]\n\n")).toBe(true)
  })

  it("a bad config file exits non-zero and names the bad field", async () => {
    const config = writeConfig("providers:\n  - name: a\n    type: openai\n    base_url: nowhere\n")
    const { code, stderr } = await runCli(["serve", "--config", config])
    expect(code).not.toBe(0)
    expect(stderr).toContain("providers[0].base_url: must be an absolute URL")
  })

  it("GATEWAY_CONFIG does what --config does", async () => {
    const config = writeConfig("providers: [{ name: a, type: carrier-pigeon }]\n")
    const { code, stderr } = await runCli(["serve"], { GATEWAY_CONFIG: config })
    expect(code).not.toBe(0)
    expect(stderr).toContain("providers[0].type")
  })

  it("a missing config file is a clear error", async () => {
    const { code, stderr } = await runCli(["serve", "--config", "/nonexistent/gateway.yaml"])
    expect(code).not.toBe(0)
    expect(stderr).toContain("/nonexistent/gateway.yaml")
  })

  it("SIGTERM lets in-flight requests finish, then exits 0", async () => {
    const gateway = await startGateway({
      config: "providers: [{ name: slow, type: mock, simulation: { latency_ms: 1000 } }]"
    })
    running.push(gateway)
    const inFlight = fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-1", messages: [{ role: "user", content: "take your time" }] })
    })
    await new Promise((r) => setTimeout(r, 300))
    const signalledAt = performance.now()
    const exited = gateway.stop("SIGTERM")
    const response = await inFlight
    expect(response.status).toBe(200)
    expect(((await response.json()) as { object: string }).object).toBe("chat.completion")
    expect(await exited).toBe(0)
    // The finished request's keep-alive connection does not hold the exit (Node's keep-alive
    // timeout is 5 s).
    expect(performance.now() - signalledAt).toBeLessThan(3000)
  })

  it("SIGTERM cuts what is still open at server.shutdown_timeout_ms", async () => {
    const gateway = await startGateway({
      config: `
providers: [{ name: slow, type: mock, simulation: { chunks: 100, chunk_delay_ms: 100 } }]
server: { shutdown_timeout_ms: 500 }
`
    })
    running.push(gateway)
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-1", messages: [{ role: "user", content: "a ten second stream" }], stream: true })
    })
    const reader = response.body!.getReader()
    await reader.read()
    const signalledAt = performance.now()
    expect(await gateway.stop("SIGTERM")).toBe(0)
    expect(performance.now() - signalledAt).toBeLessThan(3000)
    await expect(async () => {
      while (!(await reader.read()).done);
    }).rejects.toThrow()
  })
})
