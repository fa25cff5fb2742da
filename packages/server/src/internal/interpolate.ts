/**
 * `${NAME}` and `${NAME:-default}` in string values of a parsed config tree, resolved from the
 * environment. Done on the parsed tree, not the file text, so a value can never inject
 * structure into the document.
 *
 * @internal
 */
const reference = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

export interface Unset {
  readonly path: string
  readonly variable: string
}

const pathOf = (parent: string, key: string | number) =>
  typeof key === "number" ? `${parent}[${key}]` : parent === "" ? key : `${parent}.${key}`

export const interpolate = (
  value: unknown,
  env: Readonly<Record<string, string | undefined>>
): { readonly value: unknown; readonly unset: ReadonlyArray<Unset> } => {
  const unset: Array<Unset> = []
  const walk = (node: unknown, path: string): unknown => {
    if (typeof node === "string") {
      return node.replace(reference, (_, variable: string, fallback: string | undefined) => {
        const found = env[variable]
        if (found !== undefined && found !== "") return found
        if (fallback !== undefined) return fallback
        unset.push({ path, variable })
        return ""
      })
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, pathOf(path, i)))
    if (node !== null && typeof node === "object") {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, pathOf(path, k))]))
    }
    return node
  }
  return { value: walk(value, ""), unset }
}
