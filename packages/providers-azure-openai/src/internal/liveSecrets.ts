/**
 * Secrets known only while a request uses them: Microsoft Entra ID tokens got per request. Each
 * is redacted from what an error carries while a request holds it, and forgotten when the last
 * request holding it lets it go (nothing is kept that could not be refreshed).
 *
 * @internal
 */
import { REDACTED, type Redactor } from "@switchyard/provider-http/Redact"

/** @internal */
export interface LiveSecrets {
  /** Redacts every secret held now. */
  readonly redact: Redactor
  /** Holds a secret until the returned function is called (calling it again does nothing). */
  readonly hold: (secret: string) => () => void
}

/** @internal */
export const make = (): LiveSecrets => {
  const held = new Map<string, number>()
  return {
    redact: (text) => {
      let out = text
      for (const secret of held.keys()) {
        if (out.includes(secret)) out = out.split(secret).join(REDACTED)
      }
      return out
    },
    hold: (secret) => {
      if (secret === "") return () => {}
      held.set(secret, (held.get(secret) ?? 0) + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        const count = held.get(secret)! - 1
        if (count === 0) held.delete(secret)
        else held.set(secret, count)
      }
    }
  }
}
