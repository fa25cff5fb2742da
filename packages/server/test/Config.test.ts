import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Config from "@switchyard/server/Config"
import * as YAML from "yaml"

const decode = (yaml: string, env: Record<string, string> = {}) =>
  Config.fromDocument(YAML.parse(yaml) ?? {}, "test.yaml", env)

const problems = (yaml: string, env: Record<string, string> = {}) =>
  Effect.map(Effect.flip(decode(yaml, env)), (e) => e.problems)

describe("Config", () => {
  it.effect("the embedded default serves the simulator, plus OpenAI when its key is in the environment", () =>
    Effect.gen(function*() {
      const bare = yield* Config.fromDocument(undefined, "default", {})
      assert.deepStrictEqual(bare.providers.map((p) => p.name), ["mock"])
      assert.strictEqual(bare.port, 8080)
      const withKey = yield* Config.fromDocument(undefined, "default", {
        OPENAI_API_KEY: "sk-test",
        OPENAI_BASE_URL: "http://127.0.0.1:9/v1"
      })
      assert.deepStrictEqual(withKey.providers.map((p) => [p.name, p.type, p.base_url]), [
        ["mock", "mock", undefined],
        ["openai", "openai", "http://127.0.0.1:9/v1"]
      ])
      assert.strictEqual(Redacted.value(withKey.providers[1]!.api_key!), "sk-test")
    }))

  it.effect("decodes the contract: providers, Ferro routing fields, ${ENV} secrets, server", () =>
    Effect.gen(function*() {
      const settings = yield* decode(
        `
providers:
  - name: primary
    type: openai
    base_url: http://127.0.0.1:9000/v1
    api_key: \${PRIMARY_KEY}
    headers: { x-team: "\${TEAM:-platform}" }
  - { name: sim, type: mock, simulation: { latency_ms: 20, tokens: 5 } }
strategy: { mode: fallback }
targets:
  - virtual_key: primary
    retry: { attempts: 3, on_status_codes: [429, 503], initial_backoff_ms: 50 }
  - virtual_key: sim
aliases: { fast: gpt-4o-mini }
server: { port: 9090, max_body_bytes: 1024 }
`,
        { PRIMARY_KEY: "sk-primary" }
      )
      assert.strictEqual(Redacted.value(settings.providers[0]!.api_key!), "sk-primary")
      assert.deepStrictEqual(settings.providers[0]!.headers, { "x-team": "platform" })
      assert.strictEqual(settings.providers[1]!.simulation?.latency, 20)
      assert.deepStrictEqual(settings.routing.targets?.[0]?.retry?.on_status_codes, [429, 503])
      assert.strictEqual(settings.routing.aliases?.fast, "gpt-4o-mini")
      assert.strictEqual(settings.port, 9090)
      assert.strictEqual(settings.maxBodyBytes, 1024)
      // the secret does not print
      assert.notInclude(String(settings.providers[0]!.api_key), "sk-primary")
    }))

  it.effect("PORT in the environment wins over server.port", () =>
    Effect.gen(function*() {
      const settings = yield* decode("server: { port: 9090 }", { PORT: "7070", OPENAI_API_KEY: "sk-env" })
      assert.strictEqual(settings.port, 7070)
      const bad = yield* Effect.flip(decode("{}", { PORT: "http", OPENAI_API_KEY: "sk-env" }))
      assert.include(bad.message, "PORT")
    }))

  it.effect("errors name the path of every bad field", () =>
    Effect.gen(function*() {
      const found = yield* problems(`
providers:
  - { name: a, type: anthropc }
  - { name: b, type: openai, base_url: not a url }
strategy: { mode: fallback }
targets: [{ virtual_key: a, retry: { attempts: 0 } }]
server: { port: 99999 }
`)
      const joined = found.join("\n")
      assert.include(joined, "providers[0].type")
      assert.include(joined, "providers[1].base_url: must be an absolute URL")
      assert.include(joined, "targets[0].retry.attempts")
      assert.include(joined, "server.port")
    }))

  describe("OpenAI-compatible presets", () => {
    it.effect("a preset type without base_url gets the preset's default; a base_url given wins", () =>
      Effect.gen(function*() {
        const settings = yield* decode(`
providers:
  - { name: fast, type: groq, api_key: gsk-test }
  - { name: proxied, type: groq, base_url: "http://127.0.0.1:9/openai/v1" }
  - { name: local, type: ollama }
`)
        assert.deepStrictEqual(settings.providers.map((p) => [p.name, p.type, p.base_url]), [
          ["fast", "groq", "https://api.groq.com/openai/v1"],
          ["proxied", "groq", "http://127.0.0.1:9/openai/v1"],
          ["local", "ollama", "http://localhost:11434/v1"]
        ])
        assert.strictEqual(Redacted.value(settings.providers[0]!.api_key!), "gsk-test")
      }))

    it.effect("a preset with no default URL fails at load without base_url, naming the field and what to set", () =>
      Effect.gen(function*() {
        const yaml = "providers:\n  - { name: m, type: mock }\n  - { name: db, type: databricks, api_key: dapi-x }\n"
        assert.deepStrictEqual(yield* problems(yaml), [
          "providers[1].base_url: required for type databricks unless DATABRICKS_HOST is set in the environment (the default is ${DATABRICKS_HOST}/serving-endpoints)"
        ])
        const withHost = yield* decode(yaml, { DATABRICKS_HOST: "https://adb-1.azuredatabricks.net/" })
        assert.strictEqual(withHost.providers[1]!.base_url, "https://adb-1.azuredatabricks.net/serving-endpoints")
        const noScheme = yield* problems(yaml, { DATABRICKS_HOST: "adb-1.azuredatabricks.net" })
        assert.strictEqual(noScheme.length, 1)
        assert.match(noScheme[0]!, /^providers\[1\]\.base_url: .*'adb-1\.azuredatabricks\.net\/serving-endpoints'.*not an absolute/)
        const cloudflare = yield* problems("providers: [{ name: cf, type: cloudflare }]")
        assert.include(cloudflare.join("\n"), "providers[0].base_url: required for type cloudflare unless CLOUDFLARE_ACCOUNT_ID is set")
      }))

    it.effect("a preset's key variable in the environment adds a provider named after it, unless the file names one", () =>
      Effect.gen(function*() {
        const env = {
          GROQ_API_KEY: "gsk-env",
          DEEPSEEK_API_KEY: "sk-ds",
          // Needs DATABRICKS_HOST as well, which is unset: not added (as in Ferro).
          DATABRICKS_TOKEN: "dapi-env",
          CLOUDFLARE_API_KEY: "cf-env",
          CLOUDFLARE_ACCOUNT_ID: "0123abcd"
        }
        const bare = yield* Config.fromDocument(undefined, "default", env)
        assert.deepStrictEqual(bare.providers.map((p) => [p.name, p.type, p.base_url]), [
          ["mock", "mock", undefined],
          ["groq", "groq", "https://api.groq.com/openai/v1"],
          ["deepseek", "deepseek", "https://api.deepseek.com"],
          ["cloudflare", "cloudflare", "https://api.cloudflare.com/client/v4/accounts/0123abcd/ai/v1"]
        ])
        assert.strictEqual(Redacted.value(bare.providers[1]!.api_key!), "gsk-env")
        assert.deepStrictEqual(Config.environmentProviders({ GROQ_API_KEY: "gsk-env" }).map((p) => p.name), ["groq"])
        assert.deepStrictEqual(Config.environmentProviders({ GROQ_API_KEY: "" }), [])

        const named = yield* decode("providers: [{ name: groq, type: mock }]", { GROQ_API_KEY: "gsk-env" })
        assert.deepStrictEqual(named.providers.map((p) => [p.name, p.type]), [["groq", "mock"]])

        const onlyGroq = yield* decode("{}", { GROQ_API_KEY: "gsk-env" })
        assert.deepStrictEqual(onlyGroq.providers.map((p) => p.name), ["groq"])
      }))

    it.effect("an environment variable that makes a bad base URL is named", () =>
      Effect.gen(function*() {
        const found = yield* problems("{}", { DATABRICKS_TOKEN: "dapi-env", DATABRICKS_HOST: "adb-1.azuredatabricks.net" })
        assert.deepStrictEqual(found, [
          "DATABRICKS_HOST: the databricks provider's base URL 'adb-1.azuredatabricks.net/serving-endpoints' is not an absolute http(s) URL"
        ])
      }))
  })

  it.effect("unknown fields are errors, not silently ignored", () =>
    Effect.gen(function*() {
      const found = yield* problems("providers: [{ name: a, type: openai, apikey: x }]")
      assert.include(found.join("\n"), "providers[0].apikey")
    }))

  it.effect("references across fields are checked", () =>
    Effect.gen(function*() {
      const found = yield* problems(`
providers: [{ name: a, type: mock }, { name: a, type: openai }]
targets: [{ virtual_key: nope }]
aliases: { fast: quick, quick: mock-1 }
`)
      const joined = found.join("\n")
      assert.include(joined, "providers[1].name: 'a' is used by another provider")
      assert.include(joined, "targets[0].virtual_key: no provider is named 'nope'")
      assert.include(joined, "aliases.fast")
    }))

  it.effect("an unset environment variable is named with the field that needs it", () =>
    Effect.gen(function*() {
      const found = yield* problems("providers:\n  - name: a\n    type: openai\n    api_key: ${MISSING_KEY}\n")
      assert.deepStrictEqual(found, ["providers[0].api_key: environment variable MISSING_KEY is not set"])
    }))

  it.effect("sections this version cannot honour yet are refused, not ignored", () =>
    Effect.gen(function*() {
      const found = yield* problems("keys: [{ name: team-a, key: abc }]\nproviders: [{ name: m, type: mock }]")
      assert.deepStrictEqual(found, ["keys: virtual keys are not supported by this version of Switchyard yet; remove the section"])
      const empty = yield* decode("plugins: []\nmcp_servers: []\nproviders: [{ name: m, type: mock }]")
      assert.strictEqual(empty.providers.length, 1)
    }))

  it.effect("mcp_servers: Ferro's fields plus stdio servers; each names url or command, not both", () =>
    Effect.gen(function*() {
      const ok = yield* decode(
        "providers: [{ name: m, type: mock }]\nmcp_servers:\n" +
          "  - { name: tools, url: 'http://127.0.0.1:7000/mcp', headers: { authorization: 'Bearer t' }, allowed_tools: [add], max_call_depth: 5, timeout_seconds: 30 }\n" +
          "  - { name: local, command: node, args: [server.mjs], env: { LEVEL: debug } }"
      )
      assert.deepStrictEqual(ok.mcpServers.map((s) => [s.name, s.url ?? s.command, s.max_call_depth]), [
        ["tools", "http://127.0.0.1:7000/mcp", 5],
        ["local", "node", undefined]
      ])
      const found = yield* problems(
        "providers: [{ name: m, type: mock }]\nmcp_servers:\n" +
          "  - { name: a }\n" +
          "  - { name: b, url: 'http://x/mcp', command: node }\n" +
          "  - { name: b, url: 'ftp://x', args: [x] }\n" +
          "  - { name: c, command: node, headers: { a: b } }"
      )
      assert.deepStrictEqual(found, [
        "mcp_servers[0]: give either url (Streamable HTTP) or command (stdio), not neither",
        "mcp_servers[1]: give either url (Streamable HTTP) or command (stdio), not both",
        "mcp_servers[2].name: 'b' is used by another MCP server",
        "mcp_servers[2].url: must be an absolute http(s) URL",
        "mcp_servers[2]: args and env apply to a command (stdio) server",
        "mcp_servers[3].headers: apply to a url (HTTP) server"
      ])
    }))

  it.effect("every mode of a Ferro config loads unchanged, durations included", () =>
    Effect.gen(function*() {
      const providers = "providers: [{ name: openai, type: mock, models: ['gpt-*'] }, { name: anthropic, type: mock, models: ['gpt-*'] }]\n"
      const targets = "targets: [{ virtual_key: openai, weight: 3, circuit_breaker: { failure_threshold: 5, success_threshold: 1, timeout: 30s } }, { virtual_key: anthropic, weight: 0 }]\n"
      const strategies = [
        "{ mode: fallback }",
        "{ mode: loadbalance }",
        "{ mode: least-latency }",
        "{ mode: cost-optimized }",
        "{ mode: conditional, conditions: [{ key: model, value: gpt-4o, target_key: openai }, { key: metadata.team, value: a, target_key: anthropic }] }",
        "{ mode: content-based, content_conditions: [{ type: prompt_regex, value: '(?i)\\b(code|function)\\b', target_key: anthropic }, { type: prompt_contains, value: translate, target_key: openai }] }",
        "{ mode: ab-test, ab_variants: [{ target_key: openai, weight: 70, label: control }, { target_key: anthropic, weight: 30, label: challenger }] }"
      ]
      for (const strategy of strategies) {
        const settings = yield* decode(`${providers}${targets}strategy: ${strategy}\n`)
        assert.strictEqual(settings.routing.targets?.[0]?.circuit_breaker?.timeout, 30_000, strategy)
      }
      const single = yield* decode(`${providers}targets: [{ virtual_key: openai }]\nstrategy: { mode: single }\ntimeouts: { request: 1m30s, stream_idle: 2500 }\n`)
      assert.deepStrictEqual(single.routing.timeouts, { request: 90_000, stream_idle: 2500 })
    }))

  it.effect("strategy errors are caught at load, each with the path of the bad field", () =>
    Effect.gen(function*() {
      const providers = "providers: [{ name: a, type: mock }, { name: b, type: mock }]\n"
      const cases: ReadonlyArray<[string, string]> = [
        [
          "targets: [{ virtual_key: a }]\nstrategy: { mode: conditional, conditions: [{ key: model, value: x, target_key: c }] }",
          "strategy.conditions[0].target_key: no target has virtual_key 'c' (targets: a)"
        ],
        [
          "targets: [{ virtual_key: a }]\nstrategy: { mode: ab-test, ab_variants: [{ target_key: a, label: x }, { target_key: zz, label: y }] }",
          "strategy.ab_variants[1].target_key: no target has virtual_key 'zz' (targets: a)"
        ],
        [
          "targets: [{ virtual_key: a }]\nstrategy: { mode: content-based, content_conditions: [{ type: prompt_regex, value: '(unclosed', target_key: a }] }",
          "strategy.content_conditions[0].value: not a valid regular expression"
        ],
        ["targets: [{ virtual_key: a, weight: -1 }]\nstrategy: { mode: loadbalance }", "targets[0].weight: weight must not be negative"],
        [
          "targets: [{ virtual_key: a }]\nstrategy: { mode: ab-test, ab_variants: [{ target_key: a, weight: -2, label: x }] }",
          "strategy.ab_variants[0].weight: weight must not be negative"
        ],
        ["strategy: { mode: loadbalance }", "targets: mode loadbalance routes among targets, but none are listed"],
        ["targets: []\nstrategy: { mode: fallback }", "targets: must list at least one target"],
        ["targets: [{ virtual_key: a }]\nstrategy: { mode: ab-test }", "strategy.ab_variants: mode ab-test needs at least one variant"],
        [
          "targets: [{ virtual_key: a }]\nstrategy: { mode: conditional, conditions: [{ key: colour, value: x, target_key: a }] }",
          "strategy.conditions[0].key: unknown condition key 'colour'"
        ],
        ["targets: [{ virtual_key: a }, { virtual_key: b }]\nstrategy: { mode: single }", "strategy.mode: single routes to one target"],
        ["targets: [{ virtual_key: a }]\nstrategy: { mode: fallback, conditions: [] }", "strategy.conditions: not used by mode fallback"],
        ["targets: [{ virtual_key: a, circuit_breaker: { timeout: soon } }]", "targets[0].circuit_breaker.timeout: 'soon' is not a duration"],
        ["targets: [{ virtual_key: a }]\nstrategy: { mode: single, mid_stream_failover: true }", "strategy.mid_stream_failover: mode single routes each request to one target"],
        ["strategy: { mode: round-robin }", "strategy.mode: must be one of single, fallback, loadbalance"]
      ]
      for (const [yaml, expected] of cases) {
        const found = yield* problems(providers + yaml)
        assert.include(found.join("\n"), expected, yaml)
      }
    }))

  it.effect("passthrough: on the types whose clients' own requests can be forwarded, refused elsewhere", () =>
    Effect.gen(function*() {
      const ok = yield* decode(
        "providers: [{ name: a, type: anthropic, passthrough: false }, { name: g, type: gemini, api_key: k, passthrough: false }, { name: o, type: openai, passthrough: true }]"
      )
      assert.deepStrictEqual(ok.providers.map((p) => p.passthrough), [false, false, true])
      const found = yield* problems("providers: [{ name: m, type: mock, passthrough: false }, { name: g, type: groq, api_key: k, passthrough: true }]")
      assert.include(found.join("\n"), "providers[0].passthrough: applies to openai, anthropic, gemini and vertex")
      assert.include(found.join("\n"), "providers[1].passthrough: applies to openai")
    }))

  it.effect("anthropic: a provider type of its own, from the file or from ANTHROPIC_API_KEY", () =>
    Effect.gen(function*() {
      const fromFile = yield* decode("providers: [{ name: claude, type: anthropic, api_key: k, prefill: false }]")
      assert.deepStrictEqual(fromFile.providers.map((p) => [p.name, p.type, p.prefill]), [["claude", "anthropic", false]])
      const fromEnv = yield* Config.fromDocument(undefined, "default", { ANTHROPIC_API_KEY: "sk-ant", ANTHROPIC_BASE_URL: "http://127.0.0.1:9" })
      const anthropic = fromEnv.providers.find((p) => p.type === "anthropic")!
      assert.strictEqual(anthropic.name, "anthropic")
      assert.strictEqual(anthropic.base_url, "http://127.0.0.1:9")
      assert.strictEqual(Redacted.value(anthropic.api_key!), "sk-ant")
      const found = yield* problems("providers: [{ name: c, type: anthropic, prefill: prefix }, { name: o, type: openai, prefill: false }]")
      assert.include(found.join("\n"), "providers[0].prefill: anthropic continues a prefill natively")
      assert.include(found.join("\n"), "providers[1].prefill: false applies to anthropic only")
    }))

  it.effect("vendor types: their own fields, required where the vendor needs them, each problem with its path", () =>
    Effect.gen(function*() {
      const found = yield* problems(`
providers:
  - { name: az, type: azure-openai, api_key: k, entra_token: t }
  - { name: vtx, type: vertex, service_account: "not json" }
  - { name: br, type: bedrock }
  - { name: o, type: openai, region: eu-west-1, deployments: { a: b } }
`)
      const joined = found.join("\n")
      assert.include(joined, "providers[0].base_url: required for type azure-openai")
      assert.include(joined, "providers[0].entra_token: give api_key or entra_token, not both")
      assert.include(joined, "providers[1].project: required for type vertex")
      assert.include(joined, "providers[1].location: required for type vertex")
      assert.include(joined, "providers[1].service_account: not a service account JSON key")
      assert.include(joined, "providers[2].region: required for type bedrock unless AWS_REGION")
      assert.include(joined, "providers[2]: type bedrock signs with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
      assert.include(joined, "providers[3].region: only for type bedrock")
      assert.include(joined, "providers[3].deployments: only for type azure-openai")
      assert.notInclude(joined, "not json", "the key's text never appears")
      const gemini = yield* Config.fromDocument(undefined, "default", { GEMINI_API_KEY: "g" })
      assert.isTrue(gemini.providers.some((p) => p.name === "gemini" && p.type === "gemini"))
    }))
})
