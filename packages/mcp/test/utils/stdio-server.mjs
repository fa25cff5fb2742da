// An MCP server over stdio, run by the tests with `process.execPath`: `add {a, b}` gives the sum,
// `whoami` its process id and the GREETING variable of its environment.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import * as z from "zod"

const server = new McpServer({ name: "stdio-test", version: "1.0.0" })
server.registerTool(
  "add",
  { description: "Adds two numbers", inputSchema: { a: z.number(), b: z.number() } },
  ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }] })
)
server.registerTool(
  "whoami",
  { description: "The process id and the greeting", inputSchema: {} },
  () => ({ content: [{ type: "text", text: JSON.stringify({ pid: process.pid, greeting: process.env.GREETING }) }] })
)
await server.connect(new StdioServerTransport())
