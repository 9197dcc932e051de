// A database MCP server guarded by Warden, on an embedded PostgreSQL. Two ways to run it:
//   node --conditions=warden-source --import tsx examples/mcp-server/main.ts          a demo: an in-process
//        MCP client (itself guarded with guardMcpClient) lists tools and calls them
//   node --conditions=warden-source --import tsx examples/mcp-server/main.ts --stdio  a real stdio MCP
//        server for any MCP client (audit file path on stderr)
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { type EmbeddedPostgres, startEmbeddedPostgres } from '@warden/cli'
import {
  type AuditRecord,
  createWarden,
  jsonlSink,
  memorySink,
  staticBroker,
  type Warden,
} from '@warden/core'
import { guardMcpClient } from '@warden/drivers/mcp'
import { Pool } from '@warden/drivers/pg'
import { loadPolicy } from '@warden/policy'
import { SAMPLE_DATA } from '../shared/sample-data.js'
import { createDatabaseServer } from './server.js'

const here = dirname(fileURLToPath(import.meta.url))
const PRINCIPAL = { id: 'mcp-agent', type: 'agent' } as const

interface Stack {
  readonly db: EmbeddedPostgres
  readonly warden: Warden
  readonly pool: Pool
  readonly records: readonly AuditRecord[]
  readonly auditFile: string
  stop(): Promise<void>
}

async function start(): Promise<Stack> {
  const db = await startEmbeddedPostgres()
  await db.exec(SAMPLE_DATA)
  const auditFile = join(mkdtempSync(join(tmpdir(), 'warden-mcp-')), 'audit.jsonl')
  const memory = memorySink()
  const warden = createWarden({
    policy: await loadPolicy(join(here, 'policy.yaml')),
    broker: staticBroker({
      credentials: { 'postgres:shop': { type: 'password', username: 'postgres', password: 'postgres' } },
    }),
    audit: [jsonlSink(auditFile), memory],
  })
  const pool = new Pool(warden, {
    resource: 'shop',
    host: db.host,
    port: db.port,
    database: 'postgres',
    max: 2,
  })
  return {
    db,
    warden,
    pool,
    records: memory.records,
    auditFile,
    async stop() {
      await warden.close()
      await pool.end().catch(() => undefined)
      await db.stop()
    },
  }
}

export interface McpDemo {
  readonly listed: readonly string[]
  readonly results: Readonly<Record<string, { isError: boolean; text: string }>>
  readonly records: readonly AuditRecord[]
  readonly transcript: readonly string[]
}

export async function runMcpDemo(print: (line: string) => void = console.log): Promise<McpDemo> {
  const stack = await start()
  const transcript: string[] = []
  const say = (line: string) => {
    transcript.push(line)
    print(line)
  }
  try {
    const session = await stack.warden.session({ principal: PRINCIPAL })
    const server = createDatabaseServer(session, stack.pool)
    const [serverSide, clientSide] = InMemoryTransport.createLinkedPair()
    const raw = new Client({ name: 'demo-agent', version: '1.0.0' })
    await Promise.all([server.connect(serverSide), raw.connect(clientSide)])
    // the agent's side is guarded too: tools policy denies outright are not even offered to the model
    const client = guardMcpClient(session, raw, { resource: 'shop-db-mcp' })
    const listed = (await client.listTools()).tools.map((t) => t.name)
    say(`tools offered to the model: ${listed.join(', ')}`)
    const results: Record<string, { isError: boolean; text: string }> = {}
    const call = async (label: string, via: Client, name: string, args: Record<string, unknown>) => {
      const r = (await via.callTool({ name, arguments: args })) as {
        isError?: boolean
        content: { text: string }[]
      }
      results[label] = { isError: r.isError === true, text: r.content.map((c) => c.text).join('\n') }
      say(`${name}(${JSON.stringify(args)}) → ${r.isError ? 'refused: ' : ''}${results[label].text}`)
    }
    await call('tables', client, 'list_tables', {})
    await call('customers', client, 'query', {
      sql: 'SELECT id, name, email, phone FROM customers ORDER BY id',
    })
    await call('orders', client, 'customer_orders', { customer_id: 1 })
    await call('write', client, 'query', { sql: 'DELETE FROM orders WHERE id = 103' })
    // a client that ignores the listing and calls the hidden tool anyway: the server refuses it
    await call('reset', raw, 'reset_database', {})
    await raw.close()
    await server.close()
    await stack.warden.close()
    say('audit:')
    for (const r of stack.records)
      if (r.type === 'command') say(`  ${r.decision?.effect} ${r.outcome?.status} ${r.action} ${r.command}`)
    return { listed, results, records: stack.records, transcript }
  } finally {
    await stack.stop()
  }
}

/** Serves MCP over stdio until stdin closes. */
export async function serveStdio(): Promise<void> {
  const stack = await start()
  const session = await stack.warden.session({ principal: PRINCIPAL })
  const server = createDatabaseServer(session, stack.pool)
  process.stderr.write(`shop-db MCP server ready; audit: ${stack.auditFile}\n`)
  const transport = new StdioServerTransport()
  transport.onclose = () => {
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  await server.connect(transport)
  process.stdin.on('end', () => void server.close())
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const run = process.argv.includes('--stdio') ? serveStdio() : runMcpDemo().then(() => undefined)
  run.catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
