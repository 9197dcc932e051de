// The MCP SDK internals the server guard relies on, for both majors: @modelcontextprotocol/sdk >=1.20 <2
// and @modelcontextprotocol/server 2.x, checked by test/mcp/internals.test.ts. Only read, never written.

/** McpServer keeps its registered tools in `_registeredTools` (name → RegisteredTool) in 1.x and 2.x. */
interface McpServerInternals {
  readonly _registeredTools?: unknown
}

/**
 * Names of tools registered before the guard was attached (they would run unguarded), or null when
 * this SDK version no longer exposes the table: the guard then refuses to attach (fail closed).
 */
export function registeredToolNames(server: object): string[] | null {
  const table = (server as McpServerInternals)._registeredTools
  if (table === null || typeof table !== 'object') return null
  return Object.keys(table)
}

/**
 * The request's `_meta` as a tool handler sees it: 1.x passes `extra._meta`, 2.x passes a context
 * whose `mcpReq._meta` holds it.
 */
export function requestMeta(extra: unknown): Readonly<Record<string, unknown>> | undefined {
  const e = extra as { _meta?: unknown; mcpReq?: { _meta?: unknown } } | null | undefined
  const meta = e?._meta ?? e?.mcpReq?._meta
  return meta !== null && typeof meta === 'object' ? (meta as Record<string, unknown>) : undefined
}
