import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { autoApprove, autoDeny, createWarden, type Session } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { guardMcpClient, guardMcpServer } from '@warden/drivers/mcp'
import { describePostgres } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'

const policy = compilePolicy(`
rules:
  - name: db-reads
    resources: ["postgres:crm"]
    when: '!sql.write && sql.parsed'
    effect: allow
  - name: listed-tools
    resources: ["tool:crm-mcp"]
    when: 'tool.name in ["find_customer", "ping"]'
    effect: allow
  - name: refunds
    resources: ["tool:crm-mcp"]
    when: 'tool.name == "refund" && tool.args.amount > 100'
    effect: approve
    approval: { approvers: [leads], timeout: 1m }
  - name: small-refunds
    resources: ["tool:crm-mcp"]
    when: 'tool.name == "refund" && tool.args.amount <= 100'
    effect: allow
masks:
  - name: emails
    columns: ["email"]
    strategy: redact
  - name: emails-in-text
    detectors: [email]
    strategy: redact
`)

const EMAIL = 'katherine.johnson@nasa.example.org'
const CUSTOMERS = [{ id: 1, name: 'Katherine', email: EMAIL }]
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.()
})

/** A server with database-ish tools; `guard` wraps it before the tools are registered. */
async function connect(
  options: { guard?: (server: McpServer) => McpServer; wrapClient?: (client: Client) => Client } = {},
) {
  const log: string[] = []
  const server = options.guard
    ? options.guard(new McpServer({ name: 'crm', version: '1.0.0' }))
    : new McpServer({ name: 'crm', version: '1.0.0' })
  server.registerTool(
    'find_customer',
    { description: 'find', inputSchema: { name: z.string() } },
    async ({ name }) => {
      log.push(`find ${name}`)
      return { content: [{ type: 'text', text: JSON.stringify(CUSTOMERS.filter((c) => c.name === name)) }] }
    },
  )
  server.registerTool(
    'query',
    { description: 'run SQL', inputSchema: { sql: z.string() } },
    async ({ sql }) => {
      log.push(`query ${sql}`)
      return {
        content: [{ type: 'text', text: `ran: ${sql}; contact ${EMAIL}` }],
        structuredContent: { rows: CUSTOMERS },
      }
    },
  )
  server.registerTool('refund', { inputSchema: { amount: z.number() } }, async ({ amount }) => {
    log.push(`refund ${amount}`)
    return { content: [{ type: 'text', text: `refunded ${amount}` }] }
  })
  server.registerTool('drop_everything', { description: 'never' }, async () => {
    log.push('dropped')
    return { content: [{ type: 'text', text: 'gone' }] }
  })
  server.registerTool('ping', {}, async () => ({ content: [{ type: 'text', text: 'pong' }] }))
  const [a, b] = InMemoryTransport.createLinkedPair()
  const raw = new Client({ name: 'agent', version: '1.0.0' })
  await Promise.all([server.connect(a), raw.connect(b)])
  closers.push(async () => {
    await raw.close()
    await server.close()
  })
  const client = options.wrapClient ? options.wrapClient(raw) : raw
  return { server, client, log }
}

async function open(approvals = autoDeny()) {
  const audit = memorySink()
  const warden = createWarden({ policy, audit, approvals })
  const session = await warden.session({ principal: { id: 'mcp-agent', type: 'agent' } })
  closers.push(() => warden.close())
  return { warden, session, audit }
}

const describeSql = {
  query: async (args: Record<string, unknown>) => ({
    resource: { kind: 'postgres' as const, name: 'crm' },
    sql: await describePostgres(String(args.sql)),
  }),
}

const text = (r: { content?: unknown }) =>
  (r.content as { type: string; text: string }[]).map((c) => c.text).join('\n')

describe('guardMcpClient (real Client and McpServer over the in-memory transport)', () => {
  it('tools/list hides what policy denies outright; argument-dependent tools stay listed', async () => {
    const { session } = await open()
    const { client } = await connect({
      wrapClient: (c) => guardMcpClient(session, c, { resource: 'crm-mcp', describe: describeSql }),
    })
    const { tools } = await client.listTools()
    // refund depends on the amount (error on a missing key ⇒ listed); query is decided as SQL on its text
    expect(tools.map((t) => t.name).sort()).toEqual(['find_customer', 'ping', 'refund'])
  })

  it('callTool: allowed calls are masked (JSON text and structured content), denied ones become isError results', async () => {
    const { session, audit } = await open()
    const { client, log } = await connect({
      wrapClient: (c) => guardMcpClient(session, c, { resource: 'crm-mcp', describe: describeSql }),
    })
    const found = await client.callTool({ name: 'find_customer', arguments: { name: 'Katherine' } })
    expect(found.isError).toBeFalsy()
    expect(JSON.parse(text(found))).toEqual([
      { id: 1, name: 'Katherine', email: expect.not.stringContaining('katherine') },
    ])
    const rows = await client.callTool({
      name: 'query',
      arguments: { sql: 'SELECT id, email FROM customers' },
    })
    expect(JSON.stringify(rows)).not.toContain(EMAIL)
    expect(text(rows)).toContain('ran: SELECT id, email FROM customers')
    const denied = await client.callTool({ name: 'query', arguments: { sql: 'DELETE FROM customers' } })
    expect(denied.isError).toBe(true)
    expect(text(denied)).toContain('blocked by policy')
    expect(denied._meta?.['warden/refusal']).toMatchObject({
      denied: true,
      code: 'ERR_WARDEN_DENIED',
      tool: 'query',
      rule: 'default',
    })
    const hidden = await client.callTool({ name: 'drop_everything', arguments: {} })
    expect(hidden.isError).toBe(true)
    expect(log).toEqual(['find Katherine', 'query SELECT id, email FROM customers'])
    audit.expectRecord({
      action: 'sql.query',
      command: 'DELETE FROM customers',
      outcome: { status: 'denied' },
      request: { facts: { tool: { name: 'query' } } },
    })
    audit.expectRecord({
      action: 'tool.call',
      command: 'find_customer {"name":"Katherine"}',
      masked: [{ column: 'content.text.email', strategy: 'redact', count: 1 }],
    })
  })

  it('approve holds the call for the Warden approver', async () => {
    const approvals = autoApprove({ by: 'lead-li' })
    const { session, audit } = await open(approvals)
    const { client, log } = await connect({
      wrapClient: (c) => guardMcpClient(session, c, { resource: 'crm-mcp' }),
    })
    expect(text(await client.callTool({ name: 'refund', arguments: { amount: 500 } }))).toBe('refunded 500')
    expect(approvals.requests).toHaveLength(1)
    expect(log).toEqual(['refund 500'])
    audit.expectRecord({ approval: { status: 'approved', by: 'lead-li' }, command: 'refund {"amount":500}' })
    // other client methods are the client's own
    expect((await client.ping()) ?? {}).toEqual({})
  })
})

describe('guardMcpServer', () => {
  it('guards every handler: refusals are isError results for the model, results are masked, calls audited', async () => {
    const { session, audit } = await open()
    const { client, log } = await connect({
      guard: (s) => guardMcpServer(session, s, { resource: 'crm-mcp', describe: describeSql }),
    })
    expect(text(await client.callTool({ name: 'ping', arguments: {} }))).toBe('pong')
    const found = await client.callTool({ name: 'find_customer', arguments: { name: 'Katherine' } })
    expect(text(found)).not.toContain(EMAIL)
    const refused = await client.callTool({ name: 'drop_everything', arguments: {} })
    expect(refused.isError).toBe(true)
    expect(text(refused)).toContain('The call to drop_everything was blocked by policy')
    const write = await client.callTool({
      name: 'query',
      arguments: { sql: 'UPDATE customers SET email = NULL' },
    })
    expect(write.isError).toBe(true)
    const bad = await client.callTool({ name: 'query', arguments: { sql: 'SELEC oops' } })
    expect(bad.isError).toBe(true)
    expect(log).toEqual(['find Katherine'])
    expect(audit.commands().map((r) => [r.command, r.outcome?.status])).toEqual([
      ['ping {}', 'ok'],
      ['find_customer {"name":"Katherine"}', 'ok'],
      ['drop_everything {}', 'denied'],
      ['UPDATE customers SET email = NULL', 'denied'],
      ['SELEC oops', 'denied'],
    ])
  })

  it('refuses a server whose tools were registered before the guard, and task tools', async () => {
    const { session } = await open()
    const early = new McpServer({ name: 'x', version: '1.0.0' })
    early.registerTool('t', {}, async () => ({ content: [] }))
    expect(() => guardMcpServer(session, early, { resource: 'x' })).toThrow(/registered before the guard/)
    const late = guardMcpServer(session, new McpServer({ name: 'y', version: '1.0.0' }), { resource: 'x' })
    expect(() =>
      (late.experimental.tasks.registerToolTask as (...a: unknown[]) => unknown)('t', {}, {}),
    ).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_UNSUPPORTED' }))
  })

  it('a callback swapped in later, or a renamed tool, stays guarded under its new name', async () => {
    const { session, audit } = await open()
    const server = guardMcpServer(session, new McpServer({ name: 'crm', version: '1.0.0' }), {
      resource: 'crm-mcp',
    })
    const ping = server.registerTool('ping', {}, async () => ({ content: [{ type: 'text', text: 'pong' }] }))
    const [a, b] = InMemoryTransport.createLinkedPair()
    const client = new Client({ name: 'agent', version: '1.0.0' })
    await Promise.all([server.connect(a), client.connect(b)])
    closers.push(async () => {
      await client.close()
      await server.close()
    })
    ping.update({ callback: async () => ({ content: [{ type: 'text', text: `pong ${EMAIL}` }] }) })
    expect(text(await client.callTool({ name: 'ping', arguments: {} }))).not.toContain(EMAIL)
    ping.update({ name: 'drop_everything' })
    const refused = await client.callTool({ name: 'drop_everything', arguments: {} })
    expect(refused.isError).toBe(true)
    audit.expectRecord({ command: 'drop_everything {}', outcome: { status: 'denied' } })
  })

  it('the session of a call can come from the request (per-connection principals)', async () => {
    const { warden } = await open()
    const admin: Session = await warden.session({ principal: { id: 'ops', type: 'user' } })
    const seen: string[] = []
    const { client } = await connect({
      guard: (s) =>
        guardMcpServer(warden, s, {
          resource: 'crm-mcp',
          session: (extra) => {
            seen.push(typeof (extra as { requestId?: unknown }).requestId)
            return admin
          },
        }),
    })
    expect(text(await client.callTool({ name: 'ping', arguments: {} }))).toBe('pong')
    expect(seen).toEqual(['number'])
  })
})
