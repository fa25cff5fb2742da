import { assert, describe, it } from "@effect/vitest"
import * as EventStream from "../src/EventStream.js"

const parse = (pieces: ReadonlyArray<string>) => {
  const events: Array<EventStream.Event> = []
  const parser = EventStream.makeParser((e) => events.push(e))
  for (const piece of pieces) parser.feed(piece)
  return events
}

// The interpretation rules of https://html.spec.whatwg.org/multipage/server-sent-events.html
describe("EventStream.makeParser", () => {
  it("dispatches on an empty line; joins data lines with LF; drops one leading space", () => {
    assert.deepStrictEqual(parse(["data: a\ndata:  b\n\ndata:c\n\n"]), [
      { event: "message", data: "a\n b", id: undefined },
      { event: "message", data: "c", id: undefined }
    ])
  })

  it("CRLF, LF and CR line endings, cut anywhere, even between CR and LF", () => {
    const text = "event: delta\r\ndata: {\"x\":1}\r\n\r\ndata: two\rdata: lines\r\rdata: é\n\n"
    const expected = parse([text])
    assert.strictEqual(expected.length, 3)
    assert.deepStrictEqual(expected[0], { event: "delta", data: "{\"x\":1}", id: undefined })
    assert.strictEqual(expected[1]!.data, "two\nlines")
    for (let size = 1; size <= 7; size++) {
      const pieces: Array<string> = []
      for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size))
      assert.deepStrictEqual(parse(pieces), expected, `pieces of ${size}`)
    }
  })

  it("comments, retry and unknown fields are ignored; an event without data is not dispatched", () => {
    assert.deepStrictEqual(parse([": keep-alive\n\nretry: 10\nfoo: bar\n\nevent: ping\n\nid: 7\ndata: x\n\n"]), [
      { event: "message", data: "x", id: "7" }
    ])
  })

  it("the event name does not carry over to the next event; the id does", () => {
    assert.deepStrictEqual(parse(["id: 1\nevent: error\ndata: a\n\ndata: b\n\n"]), [
      { event: "error", data: "a", id: "1" },
      { event: "message", data: "b", id: "1" }
    ])
  })

  it("a burst of many events in one piece is parsed in linear time", () => {
    const one = `data: ${JSON.stringify({ choices: [{ delta: { content: "x".repeat(100) } }] })}\n\n`
    const events = parse([one.repeat(20_000)])
    assert.strictEqual(events.length, 20_000)
  })
})
