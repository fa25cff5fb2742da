import { assert, describe, it } from "@effect/vitest"
import * as Catalog from "../src/internal/catalog.js"

const tool = (name: string) => ({ name, inputSchema: { type: "object" as const } })

describe("catalog", () => {
  it("offers names as models take them, the servers' own names kept for the calls", () => {
    const catalog = Catalog.build([
      { server: "files", allowed: undefined, tools: [tool("files.read"), tool("search")], connection: 1 },
      { server: "web.io", allowed: undefined, tools: [tool("search")], connection: 2 }
    ])
    assert.deepStrictEqual(catalog.tools.map((t) => t.function.name), ["files_read", "files__search", "web_io__search"])
    assert.strictEqual(catalog.byName.get("files_read")?.tool.name, "files.read")
    assert.strictEqual(catalog.byName.get("web_io__search")?.connection, 2)
    assert.isTrue(catalog.tools.every((t) => /^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name)))
  })
})
