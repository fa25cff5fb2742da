/**
 * The agentic loop over the gateway's own tools (`Tools`, an MCP server's): the tools are offered
 * with the request, the calls the model makes to them are run (in parallel when it made
 * several) and their results appended, and the model is asked again, until it answers without
 * calling them or the depth limit is reached. A call to a tool the client sent ends the loop: the
 * client runs it. Every call is a span and an audit event (`Hooks.ToolCallEvent`).
 *
 * The client sees one answer: the text of every round in order, one finish reason, and the usage
 * of every round summed. Streamed, every round is a stream: each round's text reaches the client
 * as it comes, and the calls the gateway runs never do.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { ChatChunk, ChatRequest, ChatResponse, Message, Tool, ToolCall, Usage } from "./ChatSchema.js"
import type { ChatResult, StreamResult } from "./Gateway.js"
import type { GatewayError } from "./GatewayError.js"
import type * as Hooks from "./Hooks.js"
import type { RequestContext } from "./RequestContext.js"
import * as Streaming from "./Streaming.js"
import type * as Tools from "./Tools.js"

/**
 * The finish reason of an answer given because the depth limit was reached while the model
 * still asked for the gateway's tools (those calls are left out of it).
 *
 * @since 0.1.0 @category Constants
 */
export const depthLimitReached = "max_tool_depth"

/**
 * The request with the gateway's tools added, but for those the client already sent one of
 * the same name.
 *
 * @since 0.1.0 @category Requests
 */
export const offer = (req: ChatRequest, tools: ReadonlyArray<Tool>): ChatRequest => {
  const added = ownTools(req, tools)
  return added.length === 0 ? req : { ...req, tools: [...(req.tools ?? []), ...added] }
}

/** The gateway's tools a request is offered: those the client did not send one of the same name of. */
const ownTools = (req: ChatRequest, tools: ReadonlyArray<Tool>): ReadonlyArray<Tool> => {
  const sent = new Set((req.tools ?? []).map((t) => t.function.name))
  return tools.filter((t) => !sent.has(t.function.name))
}

/** The names of the tools the loop runs for a request: a tool the client sent is the client's. */
const runBy = (req: ChatRequest, tools: ReadonlyArray<Tool>): ReadonlySet<string> =>
  new Set(ownTools(req, tools).map((t) => t.function.name))

const sum = (a: Usage | undefined, b: Usage | undefined | null): Usage | undefined => {
  if (b == null) return a
  if (a === undefined) return b
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens
  }
}

/**
 * What the loop runs with: the tools, and where each call is recorded (the audit trail,
 * `Hooks.publishToolCall`).
 *
 * @since 0.1.0 @category Models
 */
export interface Loop {
  readonly tools: Tools.Service
  readonly audit: (event: Hooks.ToolCallEvent) => Effect.Effect<void>
}

/** Runs the calls, all at once, each a span and an audit event; their results in order. */
const runCalls = (
  { audit, tools }: Loop,
  calls: ReadonlyArray<ToolCall>,
  ctx: RequestContext
): Effect.Effect<ReadonlyArray<Message>> =>
  Effect.forEach(
    calls,
    (call) =>
      Effect.timed(tools.call(call.function.name, call.function.arguments, ctx)).pipe(
        Effect.tap(([elapsed, result]) =>
          audit({
            requestId: ctx.requestId,
            tool: call.function.name,
            callId: call.id,
            outcome: result.isError ? "error" : "success",
            latencyMs: Duration.toMillis(elapsed),
            error: result.isError ? result.content : undefined
          })
        ),
        Effect.map(([, result]): Message => ({ role: "tool", tool_call_id: call.id, content: result.content })),
        Effect.withSpan("ToolLoop.call", { attributes: { "gen_ai.tool.name": call.function.name, "gen_ai.tool.call.id": call.id } })
      ),
    { concurrency: "unbounded" }
  )

/** Whether every call is one the gateway runs. */
const allOurs = (calls: ReadonlyArray<ToolCall>, ours: ReadonlySet<string>) =>
  calls.length > 0 && calls.every((c) => ours.has(c.function.name))

/**
 * The calls the client runs, when the model also called the gateway's tools in the same answer:
 * the client is given its own only (it cannot run the others, and the loop cannot go on
 * without its results).
 */
const clientsOnly = (calls: ReadonlyArray<ToolCall>, ours: ReadonlySet<string>) => calls.filter((c) => !ours.has(c.function.name))

/**
 * `chat` with the loop: `ask` is one round (the gateway's own `chat`, routed, retried and
 * accounted like any request).
 *
 * @since 0.1.0 @category Loops
 */
export const chat = (
  ask: (req: ChatRequest) => Effect.Effect<ChatResult, GatewayError>,
  loop: Loop,
  offered: ReadonlyArray<Tool>,
  req: ChatRequest,
  ctx: RequestContext
): Effect.Effect<ChatResult, GatewayError> => {
  const ours = runBy(req, offered)
  /** `said`: the text of the rounds that called tools, which a streamed answer would have shown. */
  const round = (
    messages: ReadonlyArray<Message>,
    depth: number,
    used: Usage | undefined,
    said: string
  ): Effect.Effect<ChatResult, GatewayError> =>
    Effect.flatMap(ask({ ...offer(req, offered), messages }), (result) => {
      const usage = sum(used, result.response.usage)
      const choice = result.response.choices[0]
      const calls = choice?.message.tool_calls ?? []
      const answer = (message: ChatResponse["choices"][number]["message"], finish: string | null | undefined): ChatResult => {
        const content = said === "" ? message.content : said + (message.content ?? "")
        return {
          ...result,
          response: {
            ...result.response,
            choices: [
              { ...choice!, message: { ...message, content }, finish_reason: finish ?? null },
              ...result.response.choices.slice(1)
            ],
            ...(usage === undefined ? {} : { usage })
          }
        }
      }
      if (choice === undefined) return Effect.succeed(result)
      if (calls.length === 0) return Effect.succeed(answer(choice.message, choice.finish_reason))
      if (!allOurs(calls, ours)) {
        return Effect.succeed(answer({ ...choice.message, tool_calls: clientsOnly(calls, ours) }, choice.finish_reason))
      }
      if (depth >= loop.tools.maxDepth) {
        const { tool_calls: _, ...message } = choice.message
        return Effect.succeed(answer(message, depthLimitReached))
      }
      return Effect.flatMap(runCalls(loop, calls, ctx), (results) =>
        round(
          [...messages, { role: "assistant", content: choice.message.content, tool_calls: calls }, ...results],
          depth + 1,
          usage,
          said + (choice.message.content ?? "")
        ))
    })
  return round(req.messages, 0, undefined, "")
}

/** One round's tool call, as its fragments arrive. */
interface PendingCall {
  id: string
  name: string
  arguments: string
}

/**
 * `chatStream` with the loop: `askStream` opens one round (the gateway's own `chatStream`). The
 * first round is open when this succeeds, so a failure before any chunk is still a plain
 * failure; later rounds open inside the request's Scope, and a failure there ends the stream.
 *
 * @since 0.1.0 @category Loops
 */
export const chatStream = (
  askStream: (req: ChatRequest) => Effect.Effect<StreamResult, GatewayError, Scope.Scope>,
  loop: Loop,
  offered: ReadonlyArray<Tool>,
  req: ChatRequest,
  ctx: RequestContext
): Effect.Effect<StreamResult, GatewayError, Scope.Scope> => {
  const ours = runBy(req, offered)
  const clientWantsUsage = req.stream_options?.include_usage === true
  const withTools = { ...offer(req, offered), stream_options: { ...req.stream_options, include_usage: true } }
  const ask = (messages: ReadonlyArray<Message>) => askStream({ ...withTools, messages })
  return Effect.flatMap(Effect.scope, (scope) =>
    Effect.map(ask(req.messages), (first) => {
      let current = first.pull
      let messages = req.messages
      let depth = 0
      let usage: Usage | undefined
      let identity: Pick<ChatChunk, "id" | "created" | "model"> | undefined
      let roleSent = false
      let ended = false
      // The round being read: its text, its tool calls, its finish reason, and the chunks that
      // carried the calls (given to the client if the round turns out to be its to run).
      let text = ""
      let calls = new Map<number, PendingCall>()
      let withheld: Array<ChatChunk> = []
      let finish: string | null = null

      const chunk = (delta: ChatChunk["choices"][number]["delta"], finishReason: string | null): ChatChunk => ({
        ...identity!,
        object: "chat.completion.chunk",
        choices: [{ index: 0, delta, finish_reason: finishReason }]
      })

      const see = (c: ChatChunk, out: Array<ChatChunk>) => {
        identity ??= { id: c.id, created: c.created, model: c.model }
        if (c.usage != null) usage = sum(usage, c.usage)
        const choice = c.choices[0]
        if (choice === undefined) return
        if (choice.finish_reason != null) finish = choice.finish_reason
        const delta = choice.delta
        if (delta.tool_calls !== undefined && delta.tool_calls.length > 0) {
          for (const fragment of delta.tool_calls) {
            const call = calls.get(fragment.index) ?? { id: "", name: "", arguments: "" }
            if (fragment.id !== undefined) call.id = fragment.id
            if (fragment.function?.name !== undefined) call.name += fragment.function.name
            if (fragment.function?.arguments !== undefined) call.arguments += fragment.function.arguments
            calls.set(fragment.index, call)
          }
          const { usage: _, ...held } = c
          withheld.push({ ...held, ...identity })
        }
        const content = delta.content ?? ""
        if (content !== "" || (delta.refusal != null && delta.refusal !== "")) {
          text += content
          const { role: _role, tool_calls: _calls, ...rest } = delta
          out.push(chunk(roleSent ? rest : { ...rest, role: "assistant" }, null))
          roleSent = true
        }
      }

      /** A held-back chunk with only the fragments of the client's calls (`theirs`: old index -> new), if any. */
      const clientFragments = (c: ChatChunk, theirs: ReadonlyMap<number, number>): ReadonlyArray<ChatChunk> =>
        c.choices.flatMap((ch) => {
          const fragments = (ch.delta.tool_calls ?? []).flatMap((f) => {
            const index = theirs.get(f.index)
            return index === undefined ? [] : [{ ...f, index }]
          })
          if (fragments.length === 0) return []
          const delta = roleSent ? { tool_calls: fragments } : { role: "assistant" as const, tool_calls: fragments }
          roleSent = true
          return [{ ...c, choices: [{ ...ch, delta, finish_reason: null }] }]
        })

      const finalChunks = (finishReason: string, extra: ReadonlyArray<ChatChunk>): Chunk.Chunk<ChatChunk> => {
        ended = true
        const out = [...extra, chunk(roleSent ? {} : { role: "assistant" }, finishReason)]
        if (clientWantsUsage && usage !== undefined) out.push({ ...chunk({}, null), choices: [], usage })
        return Chunk.unsafeFromArray(out)
      }

      const endOfRound = (): Effect.Effect<Chunk.Chunk<ChatChunk>, Option.Option<GatewayError>> => {
        const made: Array<ToolCall> = [...calls.values()].map((c) => ({
          id: c.id,
          type: "function",
          function: { name: c.name, arguments: c.arguments }
        }))
        if (!allOurs(made, ours)) {
          // The client's own tools (or none): it runs them; its calls held back are its answer.
          // Renumbered from 0, as the client would have seen them had the model called only these.
          const theirs = new Map([...calls].filter(([, c]) => !ours.has(c.name)).map(([index], i) => [index, i]))
          return Effect.succeed(finalChunks(finish ?? "stop", withheld.flatMap((c) => clientFragments(c, theirs))))
        }
        if (depth >= loop.tools.maxDepth) return Effect.succeed(finalChunks(depthLimitReached, []))
        const assistant: Message = { role: "assistant", content: text === "" ? null : text, tool_calls: made }
        return Effect.flatMap(runCalls(loop, made, ctx), (results) => {
          messages = [...messages, assistant, ...results]
          depth++
          text = ""
          calls = new Map()
          withheld = []
          finish = null
          return Effect.matchEffect(Scope.extend(ask(messages), scope), {
            onFailure: (error) => Effect.fail(Option.some(error)),
            onSuccess: (next) => {
              current = next.pull
              return Effect.succeed(Chunk.empty<ChatChunk>())
            }
          })
        })
      }

      const pull: Streaming.Pull<ChatChunk, GatewayError> = Effect.suspend(() =>
        ended ? Streaming.endPull : Effect.matchEffect(current, {
          onFailure: Option.match({ onNone: endOfRound, onSome: (error) => Effect.fail(Option.some(error)) }),
          onSuccess: (chunks) => {
            const out: Array<ChatChunk> = []
            for (const c of chunks) see(c, out)
            return Effect.succeed(Chunk.unsafeFromArray(out))
          }
        })
      )

      return { ...first, pull, stream: Streaming.toStream(pull) }
    }))
}
