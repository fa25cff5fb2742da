import { assert, describe, it } from "@effect/vitest"
import * as Errors from "../src/internal/errors.js"

describe("internal/errors", () => {
  it("fromErrorBody: OpenAI's envelope and the shapes compatible servers send", () => {
    assert.deepStrictEqual(
      Errors.fromErrorBody(`{"error":{"message":"m","type":"t","code":"c","param":null}}`),
      { message: "m", type: "t", code: "c" }
    )
    assert.deepStrictEqual(Errors.fromErrorBody(`{"error":{"message":"m","code":502}}`), {
      message: "m",
      code: "502",
      status: 502
    })
    assert.deepStrictEqual(Errors.fromErrorBody(`{"error":"model not found"}`), { message: "model not found" })
    assert.deepStrictEqual(Errors.fromErrorBody(`{"detail":"Not Found"}`), { message: "Not Found" })
    assert.deepStrictEqual(Errors.fromErrorBody(`{"object":"error","message":"bad","type":"BadRequestError"}`), {
      message: "bad"
    })
    assert.deepStrictEqual(Errors.fromErrorBody("<html>502 Bad Gateway</html>"), {})
  })
})
