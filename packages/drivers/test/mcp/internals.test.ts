// The SDK internal the server guard reads (see src/mcp/mcp-internals.ts): if an upgrade moves it, this fails.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { describe, expect, it } from 'vitest'
import { registeredToolNames } from '../../src/mcp/mcp-internals.js'

describe('@modelcontextprotocol/sdk internals', () => {
  it('McpServer keeps registered tools by name in _registeredTools', () => {
    const server = new McpServer({ name: 'x', version: '1.0.0' })
    expect(registeredToolNames(server)).toEqual([])
    server.registerTool('a', {}, async () => ({ content: [] }))
    server.tool('b', async () => ({ content: [] }))
    expect(registeredToolNames(server)).toEqual(['a', 'b'])
  })

  it('reports null (the guard then refuses) when the table is gone', () => {
    expect(registeredToolNames({} as McpServer)).toBeNull()
  })
})
