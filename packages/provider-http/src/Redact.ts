/**
 * Keeps provider credentials out of everything an error carries: bodies, messages, details.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export const REDACTED = "[REDACTED]"

/** @since 0.1.0 */
export type Redactor = (text: string) => string

const identity: Redactor = (text) => text

/**
 * A function that replaces every occurrence of each secret with `[REDACTED]`. Empty secrets are
 * ignored; longer secrets are replaced first, so a secret containing another one is removed whole.
 *
 * @since 0.1.0
 */
export const make = (secrets: ReadonlyArray<string>): Redactor => {
  const list = Array.from(new Set(secrets.filter((s) => s.length > 0))).sort((a, b) => b.length - a.length)
  if (list.length === 0) return identity
  return (text) => {
    let out = text
    for (const secret of list) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED)
    }
    return out
  }
}

/**
 * Header names whose values are credentials: they are redacted from traces and logs, and their
 * values are redacted from error bodies like the API key.
 *
 * @since 0.1.0
 */
export const secretHeaderName: RegExp = /auth|key|token|secret|cookie|password/i
