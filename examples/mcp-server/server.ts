// A database MCP server whose every tool call goes through Warden: guardMcpServer decides each call,
// and the SQL behind it runs on a guarded pg pool (decided per statement, masked, audited).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { SessionSource } from '@warden/core'
import { guardMcpServer } from '@warden/drivers/mcp'
import type { Pool } from '@warden/drivers/pg'
import { z } from 'zod'

const json = (value: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(value) }] })

export function createDatabaseServer(source: SessionSource, pool: Pool): McpServer {
  // guard first, then register: the guard refuses a server that already has tools
  const server = guardMcpServer(source, new McpServer({ name: 'shop-db', version: '1.0.0' }), {
    resource: 'shop-db-mcp',
  })
  server.registerTool('list_tables', { description: 'List the tables of the shop database' }, async () => {
    const { rows } = await pool.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    )
    return json(rows.map((r: { table_name: string }) => r.table_name))
  })
  server.registerTool(
    'query',
    { description: 'Run one read-only SQL statement', inputSchema: { sql: z.string() } },
    async ({ sql }) => {
      const { rows } = await pool.query(sql)
      return json(rows)
    },
  )
  server.registerTool(
    'customer_orders',
    { description: "A customer's orders", inputSchema: { customer_id: z.number().int() } },
    async ({ customer_id }) => {
      const { rows } = await pool.query(
        'SELECT c.name, c.email, o.id AS order_id, o.total, o.status FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = $1 ORDER BY o.id',
        [customer_id],
      )
      return json(rows)
    },
  )
  server.registerTool('reset_database', { description: 'Delete all orders' }, async () => {
    await pool.query('TRUNCATE orders')
    return json({ reset: true })
  })
  return server
}
