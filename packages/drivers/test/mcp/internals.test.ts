// The SDK internal the server guard reads (see src/mcp/mcp-internals.ts): if an upgrade moves it, this fails.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { McpServer as McpServer2 } from '@modelcontextprotocol/server'
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

  it('2.x (@modelcontextprotocol/server) keeps the same table', () => {
    const server = new McpServer2({ name: 'x', version: '2.0.0' })
    server.registerTool('a', {}, async () => ({ content: [] }))
    expect(registeredToolNames(server)).toEqual(['a'])
  })

  it('reports null (the guard then refuses) when the table is gone', () => {
    expect(registeredToolNames({})).toBeNull()
  })
})
