/**
 * A parser of `text/event-stream` bodies (the WHATWG HTML "Server-sent events" interpretation
 * rules: lines end with CRLF, LF or CR; `data` lines join with LF; an empty line dispatches;
 * `:` starts a comment; one space after the colon is dropped). Every provider adapter reads its
 * upstream's stream through it.
 *
 * Written here rather than taken from `@effect/experimental/Sse`: that parser rescans its
 * whole buffer for every line (quadratic in a burst of events) and was the largest single cost
 * of a proxied stream; this one touches each character once. `retry:` is ignored: a gateway
 * does not reconnect a POST.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 @category Models */
export interface Event {
  /** `message` unless an `event:` line named it. */
  readonly event: string
  readonly data: string
  /** The last event id seen so far, if any. */
  readonly id: string | undefined
}

/** @since 0.1.0 @category Models */
export interface Parser {
  /** Parses more text; complete events are handed to the callback, in order, before it returns. */
  readonly feed: (text: string) => void
}

/**
 * A parser that calls `onEvent` for every complete event. Text may be cut anywhere, even
 * between the CR and LF of a line ending.
 *
 * @since 0.1.0 @category Constructors
 */
export const makeParser = (onEvent: (event: Event) => void): Parser => {
  let partial = ""
  let skipLeadingLF = false
  let data: Array<string> = []
  let eventName = ""
  let lastId: string | undefined

  const line = (text: string) => {
    if (text.length === 0) {
      if (data.length > 0) {
        onEvent({ event: eventName === "" ? "message" : eventName, data: data.length === 1 ? data[0]! : data.join("\n"), id: lastId })
      }
      data = []
      eventName = ""
      return
    }
    if (text.charCodeAt(0) === 58) return // ":" a comment
    const colon = text.indexOf(":")
    const field = colon === -1 ? text : text.slice(0, colon)
    let value = colon === -1 ? "" : text.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    switch (field) {
      case "data":
        data.push(value)
        break
      case "event":
        eventName = value
        break
      case "id":
        if (!value.includes("\0")) lastId = value
        break
    }
  }

  /** The next line end at or after `from`: an LF, a CR, or -1. */
  const lineEnd = (text: string, from: number, hasCR: boolean) => {
    const lf = text.indexOf("\n", from)
    if (!hasCR) return lf
    const cr = text.indexOf("\r", from)
    return cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf)
  }

  return {
    feed: (text) => {
      let start = 0
      if (skipLeadingLF && text.charCodeAt(0) === 10) start = 1
      skipLeadingLF = false
      const hasCR = text.includes("\r")
      for (let end = lineEnd(text, start, hasCR); end !== -1; end = lineEnd(text, start, hasCR)) {
        line(partial.length === 0 ? text.slice(start, end) : partial + text.slice(start, end))
        partial = ""
        start = end + 1
        if (text.charCodeAt(end) === 13) {
          if (start === text.length) skipLeadingLF = true
          else if (text.charCodeAt(start) === 10) start++
        }
      }
      if (start < text.length) partial += text.slice(start)
    }
  }
}
