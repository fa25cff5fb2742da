import { assert, layer } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { chatBody, chatRequest, get, makeFake, port, serve } from "./utils/server.js"

const fake = Effect.runSync(makeFake)

/** Sends a chat request, waits for `until`, then tears the connection down. */
const abandon = (p: number, body: unknown, until: "first-event" | "sent") =>
  Effect.async<string, Error>((resume) => {
    const { end, request: req } = chatRequest(p, body, (res) => {
      res.setEncoding("utf8")
      res.once("data", (first: string) => {
        req.destroy()
        resume(Effect.succeed(first))
      })
    })
    req.on("error", () => {})
    end(() => {
      if (until === "sent") {
        setTimeout(() => {
          req.destroy()
          resume(Effect.succeed(""))
        }, 50)
      }
    })
  })

layer(serve(fake), { excludeTestServices: true })("client disconnect", (it) => {
  it.effect("mid-stream interrupts the provider's stream", () =>
    Effect.gen(function*() {
      const first = yield* abandon(yield* port, chatBody("fake-hang", { stream: true }), "first-event")
      assert.isTrue(first.startsWith("data: {"))
      assert.include(first, "\"Hel\"")
      yield* Deferred.await(fake.streamReleased).pipe(
        Effect.timeoutFail({ duration: "1 second", onTimeout: () => new Error("the upstream stream was not released") })
      )
      assert.strictEqual((yield* get("/health")).status, 200)
    }))

  it.effect("while waiting for a JSON answer interrupts the provider's call", () =>
    Effect.gen(function*() {
      yield* abandon(yield* port, chatBody("fake-hang"), "sent")
      yield* Deferred.await(fake.chatReleased).pipe(
        Effect.timeoutFail({ duration: "1 second", onTimeout: () => new Error("the upstream call was not interrupted") })
      )
      assert.strictEqual((yield* get("/health")).status, 200)
    }))
})
