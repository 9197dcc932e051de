import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { describe, expect, it } from 'vitest'
import { runMcpDemo } from '../../examples/mcp-server/main.js'

const RAW_EMAIL = 'ada.lovelace@analytical.example.net'

// The demo boots an embedded Postgres (WASM) and the stdio test a second process: on a loaded
// 2-core CI machine either can pass the default 30 s, so they get a bound of their own.
describe('examples/mcp-server', { timeout: 120_000 }, () => {
  it('demo: the guarded client hides the denied tool; the guarded server masks, refuses writes and the hidden tool', async () => {
    const demo = await runMcpDemo(() => {})
    expect(demo.listed).toEqual(['list_tables', 'query', 'customer_orders'])
    expect(JSON.parse(demo.results.tables.text)).toEqual(['customers', 'orders'])
    const customers = JSON.parse(demo.results.customers.text) as { name: string; email: string }[]
    expect(customers.map((c) => c.name)).toEqual(['Ada Lovelace', 'Grace Hopper'])
    expect(demo.results.customers.text).not.toContain(RAW_EMAIL)
    expect(demo.results.orders.text).not.toContain(RAW_EMAIL)
    expect(demo.results.write).toMatchObject({ isError: true, text: expect.stringContaining('read-only') })
    expect(demo.results.reset).toMatchObject({
      isError: true,
      text: expect.stringContaining('reset_database was blocked by policy'),
    })
    const sql = demo.records
      .filter((r) => r.action === 'sql.query')
      .map((r) => [r.command, r.outcome?.status])
    expect(sql).toContainEqual(['DELETE FROM orders WHERE id = 103', 'denied'])
    expect(sql.some(([c]) => String(c).includes('TRUNCATE'))).toBe(false)
    expect(JSON.stringify(demo.records)).not.toContain(RAW_EMAIL)
  })

  it('serves a real MCP client over stdio', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--conditions=warden-source', '--import', 'tsx', 'examples/mcp-server/main.ts', '--stdio'],
      cwd: new URL('../..', import.meta.url).pathname,
      stderr: 'pipe',
    })
    const client = new Client({ name: 'stdio-test', version: '1.0.0' })
    await client.connect(transport)
    try {
      const { tools } = await client.listTools()
      // the server lists everything; only a guarded client filters
      expect(tools.map((t) => t.name).sort()).toEqual([
        'customer_orders',
        'list_tables',
        'query',
        'reset_database',
      ])
      const rows = (await client.callTool({
        name: 'query',
        arguments: { sql: 'SELECT email FROM customers ORDER BY id' },
      })) as { content: { text: string }[] }
      expect(JSON.parse(rows.content[0].text)).toEqual([
        { email: '***@analytical.example.net' },
        { email: '***@navy.example.org' },
      ])
      const reset = (await client.callTool({ name: 'reset_database', arguments: {} })) as {
        isError?: boolean
      }
      expect(reset.isError).toBe(true)
      const after = (await client.callTool({
        name: 'query',
        arguments: { sql: 'SELECT count(*)::int AS n FROM orders' },
      })) as { content: { text: string }[] }
      expect(JSON.parse(after.content[0].text)).toEqual([{ n: 3 }])
    } finally {
      await client.close()
    }
  }, 90_000)
})
