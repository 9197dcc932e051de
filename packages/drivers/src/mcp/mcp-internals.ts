// The @modelcontextprotocol/sdk internals the MCP server guard relies on: @modelcontextprotocol/sdk
// >=1.20 <2, checked by test/mcp/internals.test.ts. Only read, never written.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'

/** McpServer keeps its registered tools in `_registeredTools` (name → RegisteredTool). */
interface McpServerInternals {
  readonly _registeredTools?: unknown
}

/**
 * Names of tools registered before the guard was attached (they would run unguarded), or null when
 * this SDK version no longer exposes the table: the guard then refuses to attach (fail closed).
 */
export function registeredToolNames(server: McpServer): string[] | null {
  const table = (server as unknown as McpServerInternals)._registeredTools
  if (table === null || typeof table !== 'object') return null
  return Object.keys(table)
}
