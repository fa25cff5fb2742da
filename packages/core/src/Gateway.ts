/**
 * The facade the HTTP layer (or an in-process application) calls. It runs the pipeline:
 * alias -> before plugins -> route (targets, retries, fallback) -> after plugins -> account.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import { identity } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Stream from "effect/Stream"
import * as Capabilities from "./Capabilities.js"
import * as Catalog from "./Catalog.js"
import type { ChatChunk, ChatRequest, ChatResponse, ModelInfo, Tool, Usage } from "./ChatSchema.js"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as Deadlines from "./Deadlines.js"
import type { EmbeddingRequest, EmbeddingResponse } from "./EmbeddingSchema.js"
import * as EmbeddingSchema from "./EmbeddingSchema.js"
import type { GatewayError } from "./GatewayError.js"
import { httpStatus, ModelNotFound, ProviderOutputError } from "./GatewayError.js"
import * as Hooks from "./Hooks.js"
import type { ImageRequest, ImageResponse } from "./ImageSchema.js"
import * as LatencyStats from "./LatencyStats.js"
import * as ModelDiscovery from "./ModelDiscovery.js"
import * as Passthrough from "./Passthrough.js"
import * as Plugins from "./Plugins.js"
import type { CallOptions, Provider } from "./Provider.js"
import * as ProviderRegistry from "./ProviderRegistry.js"
import * as RequestContext from "./RequestContext.js"
import * as Router from "./Router.js"
import * as Routing from "./Routing.js"
import type { Candidate, Plan } from "./RoutingStrategy.js"
import * as RoutingStrategy from "./RoutingStrategy.js"
import * as StreamFailover from "./StreamFailover.js"
import * as Streaming from "./Streaming.js"
import * as ToolLoop from "./ToolLoop.js"
import * as Tools from "./Tools.js"

/** @since 0.1.0 @category Models */
export interface ChatResult {
  readonly response: ChatResponse
  /** The name of the provider that answered. */
  readonly provider: string
  /** Upstream calls made for this answer, retries and failovers included. */
  readonly attempts: number
  /** The `ab-test` variant that answered. */
  readonly variant?: string | undefined
}

/** @since 0.1.0 @category Models */
export interface StreamResult {
  /** Starts with the chunk the gateway already received: the upstream is open and answering. */
  readonly stream: Stream.Stream<ChatChunk, GatewayError>
  /**
   * The same chunks as a pull, for consumers that write them out themselves (the HTTP layer):
   * reading it costs no Stream run. `stream` and `pull` share one source: consume one of them.
   */
  readonly pull: Streaming.Pull<ChatChunk, GatewayError>
  /** The provider that sent the first chunk. */
  readonly provider: string
  /** Upstream calls made until the first chunk. */
  readonly attempts: number
  readonly variant?: string | undefined
}

/**
 * An embeddings or image answer, and who gave it.
 *
 * @since 0.1.0 @category Models
 */
export interface Result<A> {
  readonly response: A
  readonly provider: string
  readonly attempts: number
  readonly variant?: string | undefined
}

/**
 * A chat request a client sent in its own wire format: `native` as it came, `canonical` its
 * translation. A candidate whose provider speaks the format is sent `native` (with the routed
 * model); any other is sent `canonical`.
 *
 * @since 0.1.0 @category Models
 */
export interface Relay {
  readonly canonical: ChatRequest
  readonly native: Passthrough.Request
  /**
   * Why `native` cannot be translated (a Responses built-in tool, say), when it cannot:
   * `canonical` is then only what routing reads, the request goes only to candidates that speak
   * the format, and with none it fails with this.
   */
  readonly untranslatable?: GatewayError | undefined
}

/**
 * How a relayed request was answered: by translation (`result`, in canonical shapes) or by a
 * provider that speaks the client's format (`answer`, its bytes as they came).
 *
 * @since 0.1.0 @category Models
 */
export type Relayed<Translated, Forwarded> =
  | { readonly _tag: "Translated"; readonly result: Translated }
  | {
    readonly _tag: "Forwarded"
    readonly answer: Forwarded
    readonly provider: string
    readonly attempts: number
    readonly variant?: string | undefined
  }

/** @since 0.1.0 @category Models */
export interface Service {
  readonly chat: (req: ChatRequest, ctx?: RequestContext.RequestContext) => Effect.Effect<ChatResult, GatewayError>
  /**
   * Opens the stream before returning: routing, retries and fallback happen until a provider
   * sends its first chunk, so a failure before any byte is a plain failure of this Effect. The
   * upstream stays open for as long as the Scope does.
   */
  readonly chatStream: (
    req: ChatRequest,
    ctx?: RequestContext.RequestContext
  ) => Effect.Effect<StreamResult, GatewayError, Scope.Scope>
  /**
   * `chat` for a request in the client's own wire format, forwarded unchanged to the candidates
   * that speak it (when no plugin reads bodies) and translated for the others.
   */
  readonly relay: (
    req: Relay,
    ctx?: RequestContext.RequestContext
  ) => Effect.Effect<Relayed<ChatResult, Passthrough.Answer>, GatewayError>
  /**
   * `chatStream` likewise. A forwarded stream is not continued by mid-stream failover: its
   * bytes cannot be spliced with another provider's.
   */
  readonly relayStream: (
    req: Relay,
    ctx?: RequestContext.RequestContext
  ) => Effect.Effect<Relayed<StreamResult, Passthrough.StreamAnswer<GatewayError>>, GatewayError, Scope.Scope>
  /**
   * Embeddings, routed like a chat request (the strategy sees the inputs that are text as the
   * user's prompt) among the candidates whose provider makes embeddings.
   */
  readonly embed: (
    req: EmbeddingRequest,
    ctx?: RequestContext.RequestContext
  ) => Effect.Effect<Result<EmbeddingResponse>, GatewayError>
  /** Image generation, routed like `embed` among the providers that make images. */
  readonly image: (
    req: ImageRequest,
    ctx?: RequestContext.RequestContext
  ) => Effect.Effect<Result<ImageResponse>, GatewayError>
  /**
   * A vendor's token count of a request in its own format, for `model`, routed like chat among
   * the candidates whose provider speaks that format: only the vendor's API can count its tokens.
   */
  readonly countTokens: (
    model: string,
    native: Passthrough.Request,
    ctx?: RequestContext.RequestContext
  ) => Effect.Effect<Result<Passthrough.Answer>, GatewayError>
  /** What each registered provider honours, and its policy for the rest. */
  readonly capabilities: ReadonlyArray<Capabilities.ProviderRow>
  /**
   * Every model the registered providers listed (discovered in the background, at start and on
   * an interval: see `ModelDiscovery`), plus the aliases.
   */
  readonly models: Effect.Effect<ReadonlyArray<ModelInfo>>
}

/** @since 0.1.0 @category Context */
export class Gateway extends Context.Tag("@switchyard/core/Gateway")<Gateway, Service>() {}

const streamEnded = (provider: Provider): GatewayError =>
  new ProviderOutputError({ provider: provider.name, detail: "the stream ended before any chunk" })

/**
 * One streaming attempt: opens the provider's stream and waits for the first chunk, so that a
 * failure before the first byte can still be retried or fall back. A provider's own
 * `openStream` releases what a failed attempt held, so it runs in the request's scope; a
 * `chatStream` read as a pull, or an attempt a mid-stream failover may abandon (`ownScope`),
 * gets a scope of its own, closed at once when the attempt fails (each scope costs a few µs).
 */
const openAttempt = (
  provider: Provider,
  req: ChatRequest,
  options: CallOptions,
  ownScope: boolean
): Effect.Effect<StreamFailover.Opened, GatewayError, Scope.Scope> => {
  const first = (pull: Effect.Effect<Streaming.Pull<ChatChunk, GatewayError>, GatewayError, Scope.Scope>) =>
    pull.pipe(
      Effect.flatMap(Streaming.awaitFirstPull),
      Effect.flatMap(Option.match({
        onNone: () => Effect.fail(streamEnded(provider)),
        onSome: Effect.succeed
      }))
    )
  if (provider.openStream !== undefined && !ownScope) {
    return Effect.map(first(provider.openStream(req, options)), (pull) => ({ pull, scope: undefined }))
  }
  return Effect.flatMap(Effect.scope, (parent) =>
    Effect.flatMap(Scope.fork(parent, ExecutionStrategy.sequential), (scope) =>
      first(provider.openStream !== undefined ? provider.openStream(req, options) : Stream.toPull(provider.chatStream(req))).pipe(
        Effect.map((pull) => ({ pull, scope })),
        Scope.extend(scope),
        Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void)
      )))
}

/**
 * Builds the gateway. The routing configuration is validated against the registered providers
 * first: a bad one fails here, with the path of every bad field.
 *
 * @since 0.1.0 @category Constructors
 */
export const make = (config: Routing.RoutingConfig) =>
  Effect.gen(function*() {
    const registry = yield* ProviderRegistry.ProviderRegistry
    const catalog = yield* Catalog.Catalog
    const plugins = yield* Plugins.Plugins
    const hooks = yield* Hooks.Hooks
    const breakers = yield* CircuitBreaker.CircuitBreakers
    const latency = yield* LatencyStats.LatencyStats
    const routing = yield* Routing.validate(config, registry.all().map((p) => p.name))
    const deadlines = yield* Deadlines.make
    const router = yield* Router.make({ breakers, latency, deadlines, timeouts: routing.timeouts })
    const planner = RoutingStrategy.make(routing, { registry, catalog, latency })
    const midStreamFailover = routing.strategy?.mid_stream_failover === true
    const discovery = yield* ModelDiscovery.make(registry.all())
    const tools = Option.getOrUndefined(yield* Effect.serviceOption(Tools.Tools))
    const loop: ToolLoop.Loop | undefined = tools === undefined ? undefined : { tools, audit: hooks.publishToolCall }

    /**
     * `plain` without the gateway's tools (none configured, or none offered now, as while their
     * servers connect), else `looped` over the tools offered.
     */
    const withTools = <A, E, R>(
      plain: () => Effect.Effect<A, E, R>,
      looped: (loop: ToolLoop.Loop, offered: ReadonlyArray<Tool>) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E, R> =>
      loop === undefined
        ? plain()
        : Effect.flatMap(loop.tools.list, (offered) => offered.length === 0 ? plain() : looped(loop, offered))

    const enforcers = new Map(registry.all().map((p) => {
      const policy = p.unsupportedParams ?? "warn"
      return [p.name, {
        chat: Capabilities.enforcer(p.name, "chat", p.capabilities?.chat, policy),
        embeddings: Capabilities.enforcer(p.name, "embeddings", p.capabilities?.embeddings, policy),
        images: Capabilities.enforcer(p.name, "images", p.capabilities?.images, policy)
      }] as const
    }))

    /**
     * Candidates whose provider's policy refuses the request leave the plan, so that a pool
     * serves it from a provider that honours it; with none left, the first refusal answers.
     */
    const admit = <A extends Readonly<Record<string, unknown>>>(
      operation: Capabilities.Operation,
      plan: Plan,
      request: A,
      exempt?: (provider: Provider) => boolean
    ): Effect.Effect<Plan, GatewayError> => {
      let refusal: GatewayError | undefined
      let kept: Array<Candidate> | undefined
      plan.candidates.forEach((c, i) => {
        // Only a `reject` policy can refuse; the others are applied once, by `policed`.
        const verdict = c.provider.unsupportedParams === "reject" && exempt?.(c.provider) !== true
          ? enforcers.get(c.provider.name)?.[operation]?.(request)
          : undefined
        if (verdict?._tag === "Rejected") {
          refusal ??= verdict.error
          kept ??= plan.candidates.slice(0, i)
        } else kept?.push(c)
      })
      if (kept === undefined) return Effect.succeed(plan)
      return kept.length === 0 ? Effect.fail(refusal!) : Effect.succeed({ ...plan, candidates: kept })
    }

    /** One attempt's call, with what its provider does not honour left out (and said, under `warn`). */
    const policed = <A extends Readonly<Record<string, unknown>>, B, R>(
      operation: Capabilities.Operation,
      candidate: Candidate,
      request: A,
      ctx: RequestContext.RequestContext,
      trace: Router.Trace,
      call: (request: A) => Effect.Effect<B, GatewayError, R>
    ): Effect.Effect<B, GatewayError, R> => {
      const verdict = enforcers.get(candidate.provider.name)?.[operation]?.(request)
      if (verdict === undefined || verdict._tag === "Unchanged") {
        trace.dropped = undefined
        return call(request)
      }
      if (verdict._tag === "Rejected") return Effect.fail(verdict.error)
      trace.dropped = verdict.dropped
      if (candidate.provider.unsupportedParams === "drop") return call(verdict.request)
      return Effect.zipRight(
        Effect.logWarning("parameters the provider does not support were dropped").pipe(
          Effect.annotateLogs({ requestId: ctx.requestId, provider: candidate.provider.name, dropped: verdict.dropped.join(",") })
        ),
        call(verdict.request)
      )
    }

    /** Whether a candidate is sent the client's request as it came rather than its translation. */
    const forwards = (native: Passthrough.Request | undefined, provider: Provider): boolean =>
      native !== undefined && !plugins.readsBodies && Passthrough.speaks(provider.passthrough, native.format)

    /**
     * Candidates that will be sent `native` as it came are not checked against the canonical
     * request; when `native` cannot be translated, they are the only ones left.
     */
    const prepare = (
      req: ChatRequest,
      ctx: RequestContext.RequestContext,
      native: Passthrough.Request | undefined,
      untranslatable: GatewayError | undefined
    ) =>
      plugins.beforeRequest({ ...req, model: Routing.resolveAlias(routing, req.model) }, ctx).pipe(
        Effect.flatMap((prepared) =>
          Effect.flatMap(planner(prepared, ctx), (planned) => {
            const upstream = planned.model === prepared.model ? prepared : { ...prepared, model: planned.model }
            let plan = planned
            if (untranslatable !== undefined) {
              plan = { ...planned, candidates: planned.candidates.filter((c) => forwards(native, c.provider)) }
              if (plan.candidates.length === 0) return Effect.fail(untranslatable)
            }
            return Effect.map(
              admit("chat", plan, upstream, (provider) => forwards(native, provider)),
              (admitted) => ({ plan: admitted, upstream })
            )
          })
        )
      )

    /** What answered a request: the candidate, and the upstream model it was asked for. */
    interface ServedBy {
      readonly candidate: Candidate
      readonly model: string
    }

    /** The answer's cost: the served model's price as that provider's, else as the model's. */
    const priceOf = (served: ServedBy, usage: Usage): number | undefined => {
      const entry = Catalog.lookupServed(catalog, served.candidate, served.model)
      return Option.isNone(entry) ? undefined : Catalog.costOf(entry.value, usage)
    }

    const account = (
      ctx: RequestContext.RequestContext,
      operation: Hooks.Operation,
      model: string,
      stream: boolean,
      served: ServedBy | undefined,
      trace: Router.Trace,
      exit: Exit.Exit<unknown, GatewayError>,
      usage: Usage | undefined,
      failovers = 0
    ) => {
      const failure = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      const interrupted = Exit.isInterrupted(exit)
      return hooks.publish({
        requestId: ctx.requestId,
        ingress: ctx.ingress,
        operation,
        model,
        provider: served?.candidate.provider.name,
        variant: served?.candidate.label,
        stream,
        outcome: Exit.isSuccess(exit) ? "success" : interrupted ? "interrupted" : "error",
        status: failure !== undefined ? httpStatus(failure) : interrupted ? 499 : Exit.isSuccess(exit) ? 200 : 500,
        latencyMs: Date.now() - ctx.startedAt,
        attempts: trace.attempts,
        failovers,
        usage,
        costUsd: usage === undefined || served === undefined ? undefined : priceOf(served, usage),
        error: failure?.message
      })
    }

    const onError = (ctx: RequestContext.RequestContext) => (error: GatewayError) => plugins.onError(error, ctx)

    const forwarded = <F>(answer: F, trace: Router.Trace, served: Candidate): Relayed<never, F> => ({
      _tag: "Forwarded",
      answer,
      provider: served.provider.name,
      attempts: trace.attempts,
      variant: served.label
    })

    /** The answer of one non-streaming attempt, before the after-response plugins. */
    type Answered =
      | { readonly _tag: "Translated"; readonly response: ChatResponse }
      | { readonly _tag: "Forwarded"; readonly answer: Passthrough.Answer }

    const relayWith = (
      req: ChatRequest,
      native: Passthrough.Request | undefined,
      untranslatable: GatewayError | undefined,
      ctx: RequestContext.RequestContext = RequestContext.make()
    ): Effect.Effect<Relayed<ChatResult, Passthrough.Answer>, GatewayError> => {
      const trace: Router.Trace = ctx.trace ?? { attempts: 0 }
      let served: ServedBy | undefined
      let usage: Usage | undefined
      return prepare(req, ctx, native, untranslatable).pipe(
        Effect.flatMap(({ plan, upstream }) =>
          Effect.flatMap(
            router.run(
              plan,
              (c, options): Effect.Effect<Answered, GatewayError> =>
                forwards(native, c.provider)
                  ? Effect.map(c.provider.passthrough!.forward(native!, upstream.model, options), (answer) => ({ _tag: "Forwarded", answer }))
                  : Effect.map(
                    policed("chat", c, upstream, ctx, trace, (r) => c.provider.chat(r, options)),
                    (response) => ({ _tag: "Translated", response })
                  ),
              trace
            ),
            ({ candidate, value }): Effect.Effect<Relayed<ChatResult, Passthrough.Answer>, GatewayError> => {
              served = { candidate, model: upstream.model }
              if (value._tag === "Forwarded") {
                usage = value.answer.usage
                return Effect.succeed(forwarded(value.answer, trace, candidate))
              }
              return Effect.map(plugins.afterResponse(value.response, ctx), (response) => {
                usage = response.usage
                return {
                  _tag: "Translated",
                  result: { response, provider: candidate.provider.name, attempts: trace.attempts, variant: candidate.label }
                }
              })
            }
          )
        ),
        Effect.tapError(onError(ctx)),
        Effect.onExit((exit) => account(ctx, "chat", req.model, false, served, trace, exit, usage))
      )
    }

    // Without a native request, every answer is translated.
    const oneRound = (req: ChatRequest, ctx: RequestContext.RequestContext) =>
      Effect.map(relayWith(req, undefined, undefined, ctx), (relayed) => (relayed as { readonly result: ChatResult }).result)

    const chat: Service["chat"] = (req, ctx = RequestContext.make()) =>
      withTools(
        () => oneRound(req, ctx),
        (loop, offered) => ToolLoop.chat((r) => oneRound(r, ctx), loop, offered, req, ctx)
      )

    /** A request a client sent in its own format goes through the tool loop translated, if it can be. */
    const relay: Service["relay"] = (req, ctx = RequestContext.make()) =>
      req.untranslatable !== undefined
        ? relayWith(req.canonical, req.native, req.untranslatable, ctx)
        : withTools(
          () => relayWith(req.canonical, req.native, undefined, ctx),
          (loop, offered) =>
            Effect.map(ToolLoop.chat((r) => oneRound(r, ctx), loop, offered, req.canonical, ctx), (result) => ({
              _tag: "Translated" as const,
              result
            }))
        )

    /** A streaming attempt's opened answer: canonical chunks, or the upstream's own bytes. */
    type Opened =
      | { readonly _tag: "Translated"; readonly opened: StreamFailover.Opened }
      | { readonly _tag: "Forwarded"; readonly answer: Passthrough.StreamAnswer }

    const openForwarded = (provider: Provider, native: Passthrough.Request, model: string, options: CallOptions) =>
      Effect.flatMap(provider.passthrough!.forwardStream(native, model, options), (answer) =>
        Effect.flatMap(Streaming.awaitFirstPull(answer.pull), (first): Effect.Effect<Opened, GatewayError> =>
          Option.isNone(first)
            ? Effect.fail(streamEnded(provider))
            : Effect.succeed({ _tag: "Forwarded", answer: { ...answer, pull: first.value } })))

    const relayStreamWith = (
      req: ChatRequest,
      client: Passthrough.Request | undefined,
      untranslatable: GatewayError | undefined,
      ctx: RequestContext.RequestContext = RequestContext.make()
    ): Effect.Effect<Relayed<StreamResult, Passthrough.StreamAnswer<GatewayError>>, GatewayError, Scope.Scope> => {
      // A forwarded stream cannot be continued elsewhere: with mid-stream failover on, a stream
      // is forwarded only when it cannot be translated.
      const native = midStreamFailover && untranslatable === undefined ? undefined : client
      const clientWantsUsage = req.stream_options?.include_usage === true
      const trace: Router.Trace = ctx.trace ?? { attempts: 0 }
      let served: ServedBy | undefined
      let usage: Usage | undefined
      let usageOf: (() => Usage | undefined) | undefined
      let failovers = 0
      // Usage is always requested upstream, for accounting; the client sees it only if it asked.
      const observe = (chunks: Chunk.Chunk<ChatChunk>): Chunk.Chunk<ChatChunk> => {
        let out: Array<ChatChunk> | undefined
        let i = 0
        for (const chunk of chunks) {
          if (chunk.usage != null) usage = chunk.usage
          if (!clientWantsUsage && chunk.usage !== undefined) {
            out ??= Chunk.toArray(chunks).slice(0, i)
            // Upstream sent `usage` (null on every chunk but the last) only because we asked.
            if (chunk.usage === null || chunk.choices.length > 0) {
              const { usage: _, ...rest } = chunk
              out.push(rest as ChatChunk)
            }
          } else if (out !== undefined) out.push(chunk)
          i++
        }
        return out === undefined ? chunks : Chunk.unsafeFromArray(out)
      }
      /** How the stream ended, read when the request's scope closes (unset: cut short). */
      let ended: Exit.Exit<void, GatewayError> | undefined
      const observed = <A>(
        pull: Streaming.Pull<A, GatewayError>,
        look: (chunks: Chunk.Chunk<A>) => Chunk.Chunk<A>
      ): Streaming.Pull<A, GatewayError> =>
        Effect.matchEffect(pull, {
          onSuccess: (chunks) => Effect.succeed(look(chunks)),
          onFailure: (failure): Effect.Effect<never, Option.Option<GatewayError>> => {
            if (Option.isNone(failure)) {
              ended = Exit.void
              return Effect.fail(failure)
            }
            ended = Exit.fail(failure.value)
            return Effect.zipRight(plugins.onError(failure.value, ctx), Effect.fail(failure))
          }
        })
      const accountOnClose = Effect.flatMap(Effect.scope, (scope) =>
        Scope.addFinalizer(
          scope,
          Effect.suspend(() =>
            account(ctx, "chat", req.model, true, served, trace, ended ?? Exit.interrupt(FiberId.none), usageOf?.() ?? usage, failovers)
          )
        ))
      return prepare(req, ctx, native, untranslatable).pipe(
        Effect.flatMap(({ plan, upstream }) => {
          const withUsage: ChatRequest = { ...upstream, stream: true, stream_options: { ...upstream.stream_options, include_usage: true } }
          const open = (c: Candidate, request: ChatRequest, options: CallOptions) =>
            policed("chat", c, request, ctx, trace, (r) => openAttempt(c.provider, r, options, midStreamFailover))
          return Effect.flatMap(
            router.run(
              plan,
              (c, options): Effect.Effect<Opened, GatewayError, Scope.Scope> =>
                forwards(native, c.provider)
                  ? openForwarded(c.provider, native!, upstream.model, options)
                  : Effect.map(open(c, withUsage, options), (opened) => ({ _tag: "Translated", opened })),
              trace
            ),
            ({ candidate, value }): Effect.Effect<Relayed<Streaming.Pull<ChatChunk, GatewayError>, Passthrough.StreamAnswer<GatewayError>>, never, Scope.Scope> => {
              served = { candidate, model: upstream.model }
              if (value._tag === "Forwarded") {
                usageOf = value.answer.usage
                const pull = observed(router.watch(value.answer.pull, candidate), identity)
                return Effect.succeed(forwarded({ ...value.answer, pull }, trace, candidate))
              }
              const translated = midStreamFailover
                ? StreamFailover.continuing({
                  router,
                  plan,
                  trace,
                  request: withUsage,
                  served: { candidate, value: value.opened },
                  open,
                  onFailover: () => void failovers++
                })
                : Effect.succeed(router.watch(value.opened.pull, candidate))
              return Effect.map(translated, (result) => ({ _tag: "Translated", result }))
            }
          )
        }),
        Effect.tapError(onError(ctx)),
        Effect.tapErrorCause((cause) => account(ctx, "chat", req.model, true, served, trace, Exit.failCause(cause), undefined)),
        Effect.flatMap((relayed): Effect.Effect<Relayed<StreamResult, Passthrough.StreamAnswer<GatewayError>>, never, Scope.Scope> => {
          if (relayed._tag === "Forwarded") return Effect.as(accountOnClose, relayed)
          const chunks = observed(relayed.result, observe)
          return Effect.as(accountOnClose, {
            _tag: "Translated" as const,
            result: {
              provider: served!.candidate.provider.name,
              attempts: trace.attempts,
              variant: served!.candidate.label,
              pull: chunks,
              stream: Streaming.toStream(chunks)
            }
          })
        })
      )
    }

    const oneStreamRound = (req: ChatRequest, ctx: RequestContext.RequestContext) =>
      Effect.map(relayStreamWith(req, undefined, undefined, ctx), (relayed) => (relayed as { readonly result: StreamResult }).result)

    const chatStream: Service["chatStream"] = (req, ctx = RequestContext.make()) =>
      withTools(
        () => oneStreamRound(req, ctx),
        (loop, offered) => ToolLoop.chatStream((r) => oneStreamRound(r, ctx), loop, offered, req, ctx)
      )

    const relayStream: Service["relayStream"] = (req, ctx = RequestContext.make()) =>
      req.untranslatable !== undefined
        ? relayStreamWith(req.canonical, req.native, req.untranslatable, ctx)
        : withTools(
          () => relayStreamWith(req.canonical, req.native, undefined, ctx),
          (loop, offered) =>
            Effect.map(ToolLoop.chatStream((r) => oneStreamRound(r, ctx), loop, offered, req.canonical, ctx), (result) => ({
              _tag: "Translated" as const,
              result
            }))
        )

    /**
     * A non-streaming operation other than chat: planned by the strategy over a chat view of
     * the request, among the candidates whose provider implements it.
     */
    /** What a provider that cannot serve an operation is said to lack. */
    const lacks = {
      embeddings: "not make embeddings",
      images: "not make images",
      count_tokens: "not speak the API whose token count was asked for"
    }

    const unary = <A extends { readonly model: string }, B>(
      operation: "embeddings" | "images" | "count_tokens",
      implementation: (provider: Provider) => ((req: A, options?: CallOptions) => Effect.Effect<B, GatewayError>) | undefined,
      view: (req: A) => ChatRequest,
      usageOf: (response: B) => Usage | undefined
    ) =>
    (req: A, ctx: RequestContext.RequestContext = RequestContext.make()): Effect.Effect<Result<B>, GatewayError> => {
      const trace: Router.Trace = ctx.trace ?? { attempts: 0 }
      let served: ServedBy | undefined
      let usage: Usage | undefined
      const model = Routing.resolveAlias(routing, req.model)
      const request = model === req.model ? req : { ...req, model }
      return planner(view(request), ctx).pipe(
        Effect.flatMap((plan) => {
          const able = plan.candidates.filter((c) => implementation(c.provider) !== undefined)
          if (able.length === 0) {
            const names = plan.candidates.map((c) => `'${c.provider.name}'`).join(", ")
            return Effect.fail(
              new ModelNotFound({
                model: req.model,
                reason: `The model '${req.model}' is served by ${names}, which ${plan.candidates.length === 1 ? "does" : "do"} ${lacks[operation]}`
              })
            )
          }
          const upstream = plan.model === request.model ? request : { ...request, model: plan.model }
          const answered = (result: Router.Served<B>): Result<B> => {
            served = { candidate: result.candidate, model: plan.model }
            usage = usageOf(result.value)
            return { response: result.value, provider: result.candidate.provider.name, attempts: trace.attempts, variant: result.candidate.label }
          }
          // A vendor's own request (token counting) goes as it came: there is nothing to police.
          if (operation === "count_tokens") {
            return Effect.map(router.run({ ...plan, candidates: able }, (c, options) => implementation(c.provider)!(upstream, options), trace), answered)
          }
          return Effect.flatMap(admit(operation, { ...plan, candidates: able }, upstream), (admitted) =>
            Effect.map(
              router.run(
                admitted,
                (c, options) => policed(operation, c, upstream, ctx, trace, (r) => implementation(c.provider)!(r, options)),
                trace
              ),
              answered
            ))
        }),
        Effect.tapError(onError(ctx)),
        Effect.onExit((exit) => account(ctx, operation, req.model, false, served, trace, exit, usage))
      )
    }

    const embed: Service["embed"] = unary(
      "embeddings",
      (p) => p.embed,
      (req) => ({
        model: req.model,
        messages: [{
          role: "user",
          content: EmbeddingSchema.inputs(req.input).filter((i): i is string => typeof i === "string").join("\n")
        }],
        ...(req.user === undefined ? {} : { user: req.user })
      }),
      (res) => ({ prompt_tokens: res.usage.prompt_tokens, completion_tokens: 0, total_tokens: res.usage.total_tokens })
    )

    const image: Service["image"] = unary(
      "images",
      (p) => p.image,
      (req) => ({
        model: req.model,
        messages: [{ role: "user", content: req.prompt }],
        ...(req.user === undefined ? {} : { user: req.user })
      }),
      (res) =>
        res.usage === undefined ? undefined : {
          prompt_tokens: res.usage.input_tokens,
          completion_tokens: res.usage.output_tokens,
          total_tokens: res.usage.total_tokens
        }
    )

    const countTokens: Service["countTokens"] = (model, native, ctx) =>
      unary(
        "count_tokens",
        (p): ((req: { readonly model: string }, options?: CallOptions) => Effect.Effect<Passthrough.Answer, GatewayError>) | undefined =>
          Passthrough.speaks(p.passthrough, native.format) ? (req, options) => p.passthrough!.forward(native, req.model, options) : undefined,
        (req) => ({ model: req.model, messages: [{ role: "user", content: "" }] }),
        () => undefined
      )({ model }, ctx)

    const aliases = Object.keys(config.aliases ?? {}).map((id): ModelInfo => ({
      id,
      object: "model",
      created: 0,
      owned_by: "switchyard-alias"
    }))
    const models: Service["models"] = Effect.map(discovery.models, (discovered) => [...discovered, ...aliases])

    const capabilities = registry.all().map(Capabilities.rowFor)

    return Gateway.of({ chat, chatStream, relay, relayStream, countTokens, embed, image, capabilities, models })
  })

/** What a gateway needs besides its configuration. @since 0.1.0 @category Models */
export type Requirements =
  | ProviderRegistry.ProviderRegistry
  | Catalog.Catalog
  | Plugins.Plugins
  | Hooks.Hooks
  | CircuitBreaker.CircuitBreakers
  | LatencyStats.LatencyStats

/** @since 0.1.0 @category Layers */
export const layer = (
  config: Routing.RoutingConfig = {}
): Layer.Layer<Gateway, Routing.InvalidRoutingConfig, Requirements> => Layer.scoped(Gateway, make(config))

/**
 * What a gateway needs besides its providers: an empty registry for provider Layers to fill,
 * the built-in catalog, no plugins, no hooks, in-memory circuit breakers and latency windows.
 * Provide it once, below the provider Layers.
 *
 * @since 0.1.0 @category Layers
 */
export const defaults: Layer.Layer<Requirements> = Layer.mergeAll(
  ProviderRegistry.layer,
  Catalog.layer,
  Plugins.layerEmpty,
  Hooks.layerNone,
  CircuitBreaker.layer,
  LatencyStats.layer
)
