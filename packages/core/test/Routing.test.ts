import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Routing from "@switchyard/core/Routing"

const providers = ["openai", "azure", "claude"]

/** The problems `validate` reports for a configuration it refuses. */
const refusal = (config: unknown) =>
  Effect.map(Effect.flip(Routing.validate(config, providers)), (error) => {
    assert.strictEqual(error._tag, "InvalidRoutingConfig")
    return error.problems
  })

describe("Routing.parseDuration", () => {
  it("reads Go-style durations as milliseconds", () => {
    assert.strictEqual(Routing.parseDuration("250ms"), 250)
    assert.strictEqual(Routing.parseDuration("30s"), 30_000)
    assert.strictEqual(Routing.parseDuration("1m30s"), 90_000)
    assert.strictEqual(Routing.parseDuration("2h"), 7_200_000)
    assert.strictEqual(Routing.parseDuration("1h2m3s4ms"), 3_723_004)
    assert.strictEqual(Routing.parseDuration("1.5s"), 1500)
    assert.strictEqual(Routing.parseDuration("500us"), 0.5)
    assert.strictEqual(Routing.parseDuration("500µs"), 0.5)
    assert.strictEqual(Routing.parseDuration("2000000ns"), 2)
    assert.strictEqual(Routing.parseDuration("0s"), 0)
  })

  it("refuses what is not a duration", () => {
    for (const text of ["", "30", "1m30", "s", "30x", "1m 30s", " 30s", "30s ", "-5s", "30s!", ".s", "ms30", "00"]) {
      assert.strictEqual(Routing.parseDuration(text), undefined, `'${text}'`)
    }
  })

  it("accepts Go's other forms: a bare 0, and a fraction without digits on one side", () => {
    assert.strictEqual(Routing.parseDuration("0"), 0)
    assert.strictEqual(Routing.parseDuration(".5s"), 500)
    assert.strictEqual(Routing.parseDuration("1.s"), 1000)
    assert.strictEqual(Routing.parseDuration("1.5m"), 90_000)
  })

  it("does not carry state from one call to the next", () => {
    assert.strictEqual(Routing.parseDuration("1m30x"), undefined)
    assert.strictEqual(Routing.parseDuration("45s"), 45_000)
    assert.strictEqual(Routing.parseDuration("45s"), 45_000)
  })
})

describe("Routing.Millis", () => {
  const decode = Schema.decodeUnknownEither(Routing.Millis)
  const message = (value: unknown) =>
    Either.match(decode(value), { onLeft: (e) => e.message, onRight: (ms) => assert.fail(`decoded to ${ms}`) })

  it("takes a number of milliseconds or a duration string", () => {
    assert.deepStrictEqual(decode(1500), Either.right(1500))
    assert.deepStrictEqual(decode("1m30s"), Either.right(90_000))
    assert.deepStrictEqual(decode("  250ms "), Either.right(250))
    assert.deepStrictEqual(decode(0), Either.right(0))
  })

  it("refuses a string that is not a duration, and negative numbers", () => {
    assert.include(message("soon"), "'soon' is not a duration (use e.g. 500ms, 30s, 1m30s)")
    assert.include(message(-1), "must not be negative")
    assert.isTrue(Either.isLeft(decode(true)))
  })

  it("encodes back to milliseconds", () => {
    assert.strictEqual(Schema.encodeSync(Routing.Millis)(90_000), 90_000)
  })
})

describe("Routing.compileRegex", () => {
  it("turns Go's leading (?i) into the i flag", () => {
    const regex = Routing.compileRegex("(?i)refund")
    assert.strictEqual(regex.source, "refund")
    assert.strictEqual(regex.flags, "i")
    assert.isTrue(regex.test("I want a REFUND"))
  })

  it("without flags, matches case-sensitively", () => {
    const regex = Routing.compileRegex("refund")
    assert.strictEqual(regex.flags, "")
    assert.isTrue(regex.test("a refund"))
    assert.isFalse(regex.test("a Refund"))
  })

  it("keeps i, m and s, drops U (lazy by default has no JavaScript flag), and repeats once", () => {
    assert.strictEqual(Routing.compileRegex("(?is)a.b").flags, "is")
    assert.isTrue(Routing.compileRegex("(?is)a.b").test("A\nB"))
    assert.strictEqual(Routing.compileRegex("(?m)^b$").flags, "m")
    assert.isTrue(Routing.compileRegex("(?m)^b$").test("a\nb"))
    assert.strictEqual(Routing.compileRegex("(?iU)x").flags, "i")
    assert.strictEqual(Routing.compileRegex("(?U)x").flags, "")
    assert.strictEqual(Routing.compileRegex("(?ii)x").flags, "i")
  })

  it("only a leading group is flags: elsewhere it is a syntax error, as are other mistakes", () => {
    assert.throws(() => Routing.compileRegex("a(?i)b"))
    assert.throws(() => Routing.compileRegex("(unclosed"))
  })
})

describe("Routing.resolveAlias", () => {
  it("an alias resolves to its model; anything else is left alone", () => {
    const config = { aliases: { fast: "gpt-4o-mini" } }
    assert.strictEqual(Routing.resolveAlias(config, "fast"), "gpt-4o-mini")
    assert.strictEqual(Routing.resolveAlias(config, "gpt-4o"), "gpt-4o")
    assert.strictEqual(Routing.resolveAlias({}, "fast"), "fast")
  })
})

describe("Routing.check", () => {
  const targets = [{ virtual_key: "openai" }, { virtual_key: "azure" }]

  it("a sound configuration has no problems", () => {
    assert.deepStrictEqual(Routing.check({}, providers), [])
    assert.deepStrictEqual(Routing.check({ targets, strategy: { mode: "fallback" } }, providers), [])
    assert.deepStrictEqual(
      Routing.check({
        targets,
        strategy: { mode: "conditional", conditions: [{ key: "user", value: "vip", target_key: "azure" }] },
        aliases: { fast: "gpt-4o-mini", smart: "gpt-4o" }
      }, providers),
      []
    )
    assert.deepStrictEqual(
      Routing.check({ targets, strategy: { mode: "least-latency", latency_window: 60_000, mid_stream_failover: true } }, providers),
      []
    )
  })

  it("a target must name a registered provider, once", () => {
    assert.deepStrictEqual(
      Routing.check({ targets: [{ virtual_key: "openai" }, { virtual_key: "groq" }, { virtual_key: "openai" }] }, providers),
      [
        "targets[1].virtual_key: no provider is named 'groq' (known: openai, azure, claude)",
        "targets[2].virtual_key: 'openai' is listed twice"
      ]
    )
  })

  it("an empty target list is a mistake; no list at all means every provider", () => {
    assert.deepStrictEqual(Routing.check({ targets: [] }, providers), ["targets: must list at least one target"])
    assert.deepStrictEqual(Routing.check({ strategy: { mode: "cost-optimized" } }, providers), [])
  })

  it("an alias must name a model, not another alias", () => {
    assert.deepStrictEqual(
      Routing.check({ aliases: { fast: "quick", quick: "gpt-4o-mini" } }, providers),
      ["aliases.fast: 'quick' is itself an alias; aliases must name models"]
    )
  })

  it("a rule field the mode does not read is reported", () => {
    assert.deepStrictEqual(
      Routing.check({
        targets,
        strategy: {
          mode: "fallback",
          conditions: [{ key: "user", value: "vip", target_key: "azure" }],
          content_conditions: [{ type: "prompt_contains", value: "x", target_key: "azure" }],
          ab_variants: [{ target_key: "azure", label: "b" }],
          latency_window: 1000
        }
      }, providers),
      [
        "strategy.conditions: not used by mode fallback",
        "strategy.content_conditions: not used by mode fallback",
        "strategy.ab_variants: not used by mode fallback",
        "strategy.latency_window: not used by mode fallback"
      ]
    )
  })

  it("single routes to one target", () => {
    assert.deepStrictEqual(
      Routing.check({ targets, strategy: { mode: "single" } }, providers),
      ["strategy.mode: single routes to one target, but several are listed (use fallback)"]
    )
    assert.deepStrictEqual(Routing.check({ targets: [{ virtual_key: "azure" }], strategy: { mode: "single" } }, providers), [])
  })

  it("modes that route among targets need them listed", () => {
    for (const mode of ["loadbalance", "conditional", "content-based", "ab-test"] as const) {
      assert.include(
        Routing.check({ strategy: { mode } }, providers),
        `targets: mode ${mode} routes among targets, but none are listed`,
        mode
      )
    }
    for (const mode of ["single", "fallback", "least-latency", "cost-optimized"] as const) {
      assert.deepStrictEqual(Routing.check({ strategy: { mode } }, providers), [], mode)
    }
  })

  it("rule modes need at least one rule", () => {
    assert.deepStrictEqual(Routing.check({ targets, strategy: { mode: "conditional", conditions: [] } }, providers), [
      "strategy.conditions: mode conditional needs at least one condition"
    ])
    assert.deepStrictEqual(Routing.check({ targets, strategy: { mode: "content-based" } }, providers), [
      "strategy.content_conditions: mode content-based needs at least one condition"
    ])
    assert.deepStrictEqual(Routing.check({ targets, strategy: { mode: "ab-test", ab_variants: [] } }, providers), [
      "strategy.ab_variants: mode ab-test needs at least one variant"
    ])
  })

  it("every rule's target_key must be a listed target", () => {
    assert.deepStrictEqual(
      Routing.check({
        targets,
        strategy: {
          mode: "conditional",
          conditions: [
            { key: "user", value: "vip", target_key: "azure" },
            { key: "model", value: "claude-sonnet-4", target_key: "claude" }
          ]
        }
      }, providers),
      ["strategy.conditions[1].target_key: no target has virtual_key 'claude' (targets: openai, azure)"]
    )
    assert.deepStrictEqual(
      Routing.check({
        targets,
        strategy: { mode: "content-based", content_conditions: [{ type: "prompt_regex", value: "x", target_key: "nope" }] }
      }, providers),
      ["strategy.content_conditions[0].target_key: no target has virtual_key 'nope' (targets: openai, azure)"]
    )
    assert.deepStrictEqual(
      Routing.check({ strategy: { mode: "ab-test", ab_variants: [{ target_key: "azure", label: "a" }] } }, providers),
      [
        "targets: mode ab-test routes among targets, but none are listed",
        "strategy.ab_variants[0].target_key: no target has virtual_key 'azure' (targets: none)"
      ]
    )
  })
})

describe("Routing.validate", () => {
  it.effect("decodes a configuration written in code, durations included", () =>
    Effect.gen(function*() {
      const config = yield* Routing.validate({
        strategy: { mode: "least-latency", latency_window: "2m" },
        targets: [
          { virtual_key: "openai", circuit_breaker: { timeout: "1m30s" }, timeouts: { request: "30s", stream_idle: 5000 } },
          { virtual_key: "azure", retry: { attempts: 3 } }
        ],
        timeouts: { request: "1m" }
      }, providers)
      assert.strictEqual(config.strategy?.latency_window, 120_000)
      assert.deepStrictEqual(config.targets?.[0], {
        virtual_key: "openai",
        circuit_breaker: { timeout: 90_000 },
        timeouts: { request: 30_000, stream_idle: 5000 }
      })
      assert.deepStrictEqual(config.timeouts, { request: 60_000 })
    }))

  it.effect("schema problems are `path: message`, every one of them", () =>
    Effect.gen(function*() {
      const problems = yield* refusal({
        targets: [{ virtual_key: "openai", weight: -1, retry: { attempts: 0 }, circuit_breaker: { timeout: "soon" } }],
        strategy: {
          mode: "conditional",
          conditions: [{ key: "region", value: "eu", target_key: "openai" }],
          ab_variants: [{ target_key: "openai", label: "" }]
        }
      })
      for (
        const expected of [
          "targets[0].weight: weight must not be negative",
          "targets[0].retry.attempts: Expected a number greater than or equal to 1, actual 0",
          "targets[0].circuit_breaker.timeout: 'soon' is not a duration (use e.g. 500ms, 30s, 1m30s)",
          "strategy.conditions[0].key: unknown condition key 'region' (use model, model_prefix, user, stream, has_tools, metadata.<field> or header.<name>)",
          "strategy.ab_variants[0].label: label must not be empty"
        ]
      ) assert.include(problems, expected)
    }))

  it.effect("an unknown mode is one problem at strategy.mode listing the modes", () =>
    Effect.gen(function*() {
      const problems = yield* refusal({ strategy: { mode: "round-robin" } })
      assert.deepStrictEqual(problems, [`strategy.mode: must be one of ${Routing.modes.join(", ")}`])
    }))

  it.effect("condition keys: the fixed ones, metadata.<field> and header.<name>", () =>
    Effect.gen(function*() {
      const keys = ["model", "model_prefix", "user", "stream", "has_tools", "metadata.tier", "header.x-tenant"]
      const config = yield* Routing.validate({
        targets: [{ virtual_key: "openai" }],
        strategy: { mode: "conditional", conditions: keys.map((key) => ({ key, value: "v", target_key: "openai" })) }
      }, providers)
      assert.deepStrictEqual(config.strategy?.conditions?.map((c) => c.key), keys)
      for (const key of ["metadata.", "header.", "metadata", "headers.x", "modelx"]) {
        const problems = yield* refusal({
          targets: [{ virtual_key: "openai" }],
          strategy: { mode: "conditional", conditions: [{ key, value: "v", target_key: "openai" }] }
        })
        assert.include(problems.join("\n"), `strategy.conditions[0].key: unknown condition key '${key}'`, key)
      }
    }))

  it.effect("an invalid prompt_regex is reported at its value", () =>
    Effect.gen(function*() {
      const problems = yield* refusal({
        targets: [{ virtual_key: "openai" }],
        strategy: { mode: "content-based", content_conditions: [{ type: "prompt_regex", value: "(", target_key: "openai" }] }
      })
      assert.isTrue(
        problems.some((p) => p.startsWith("strategy.content_conditions[0].value: not a valid regular expression: ")),
        problems.join("\n")
      )
      yield* Routing.validate({
        targets: [{ virtual_key: "openai" }],
        strategy: { mode: "content-based", content_conditions: [{ type: "prompt_regex", value: "(?i)^refund", target_key: "openai" }] }
      }, providers)
    }))

  it.effect("unknown fields are refused", () =>
    Effect.gen(function*() {
      const problems = yield* refusal({ targets: [{ virtual_key: "openai", wieght: 2 }] })
      assert.isTrue(problems.some((p) => p.startsWith("targets[0].wieght: is unexpected")), problems.join("\n"))
    }))

  it.effect("a decodable configuration is then checked against the providers", () =>
    Effect.gen(function*() {
      const config = { targets: [{ virtual_key: "groq" }], aliases: { a: "b", b: "c" } }
      const error = yield* Effect.flip(Routing.validate(config, providers))
      assert.deepStrictEqual(error.problems, [
        "targets[0].virtual_key: no provider is named 'groq' (known: openai, azure, claude)",
        "aliases.a: 'b' is itself an alias; aliases must name models"
      ])
      assert.strictEqual(
        error.message,
        "Invalid routing configuration:\n" +
          "  - targets[0].virtual_key: no provider is named 'groq' (known: openai, azure, claude)\n" +
          "  - aliases.a: 'b' is itself an alias; aliases must name models"
      )
    }))

  it.effect("something that is not an object is a problem at the root", () =>
    Effect.gen(function*() {
      const problems = yield* refusal("fallback")
      assert.strictEqual(problems.length, 1)
      assert.isTrue(problems[0]!.startsWith("(root): "), problems[0])
    }))

  // Schema.optional's union also fails its `undefined` member for every optional field around
  // the bad one ("targets: Expected undefined, actual [...]"), which would tell the reader to
  // remove fields that are fine.
  it.effect("reports the bad field only, not an 'Expected undefined' for each optional field around it", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* refusal({ targets: [{ virtual_key: "openai", weight: -1 }] }), [
        "targets[0].weight: weight must not be negative"
      ])
      assert.deepStrictEqual(yield* refusal({ timeouts: { request: "soon" } }), [
        "timeouts.request: 'soon' is not a duration (use e.g. 500ms, 30s, 1m30s)"
      ])
      const wrongType = yield* refusal({ targets: "openai" })
      assert.strictEqual(wrongType.length, 1, wrongType.join("\n"))
      assert.match(wrongType[0]!, /^targets: Expected ReadonlyArray<.*, actual "openai"$/)
    }))
})
