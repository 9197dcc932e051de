// The MCP guards on the SDK's 2.x packages (@modelcontextprotocol/server and /client), in memory; and
// the link between a guarded client's record and a guarded server's record of the same call.
import { Client } from '@modelcontextprotocol/client'
import { InMemoryTransport, McpServer, Server } from '@modelcontextprotocol/server'
import { autoDeny, createWarden } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { guardMcpClient, guardMcpServer } from '@warden/drivers/mcp'
import { compilePolicy } from '@warden/policy'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'

const policy = compilePolicy(`
rules:
  - name: client-may-call
    resources: ["tool:crm-client"]
    effect: allow
  - name: server-lookups
    resources: ["tool:crm-server"]
    when: 'tool.name == "find"'
    effect: allow
  - name: server-no-deletes
    resources: ["tool:crm-server"]
    when: 'tool.name == "delete"'
    effect: deny
    reason: deletes are not served to agents
masks:
  - name: emails
    columns: ["email"]
    strategy: redact
`)

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.()
})

async function setup() {
  const audit = memorySink()
  const warden = createWarden({ policy, audit, approvals: autoDeny() })
  const session = await warden.session({ principal: { id: 'agent-1', type: 'agent' } })
  const log: string[] = []
  const server = guardMcpServer(session, new McpServer({ name: 'crm', version: '2.0.0' }), {
    resource: 'crm-server',
  })
  server.registerTool('find', { inputSchema: z.object({ name: z.string() }) }, async ({ name }) => {
    log.push(`find ${name}`)
    return { content: [{ type: 'text', text: JSON.stringify({ name, email: 'ada@example.org' }) }] }
  })
  server.registerTool('delete', { inputSchema: z.object({ id: z.number() }) }, async ({ id }) => {
    log.push(`delete ${id}`)
    return { content: [{ type: 'text', text: 'deleted' }] }
  })
  server.registerTool('ping', {}, async () => ({ content: [{ type: 'text', text: 'pong' }] }))
  const [a, b] = InMemoryTransport.createLinkedPair()
  await server.connect(a)
  const raw = new Client({ name: 'agent', version: '2.0.0' })
  await raw.connect(b)
  closers.push(async () => {
    await raw.close()
    await server.close()
    await warden.close()
  })
  return { audit, session, log, raw, tools: () => audit.records.filter((r) => r.action === 'tool.call') }
}

describe('MCP SDK 2.x', () => {
  it('guardMcpServer guards a 2.x McpServer: allowed calls run masked, denied calls never run', async () => {
    const { raw, log, tools } = await setup()
    const found = (await raw.callTool({ name: 'find', arguments: { name: 'Ada' } })) as {
      content: { text: string }[]
    }
    expect(JSON.parse(found.content[0].text)).toEqual({ name: 'Ada', email: '[redacted]' })
    const refused = (await raw.callTool({ name: 'delete', arguments: { id: 7 } })) as {
      isError: boolean
      _meta: Record<string, { rule: string }>
    }
    expect(refused.isError).toBe(true)
    expect(refused._meta['warden/refusal'].rule).toBe('server-no-deletes')
    expect(log).toEqual(['find Ada'])
    expect(tools().map((r) => [r.facts?.name, r.outcome?.status])).toEqual([
      ['find', 'ok'],
      ['delete', 'denied'],
    ])
  })

  it('a tool without an input schema is called with the context only, and still guarded', async () => {
    const { raw, tools } = await setup()
    const r = (await raw.callTool({ name: 'ping', arguments: {} })) as { isError?: boolean }
    expect(r.isError).toBe(true) // no rule allows ping on the server: default deny
    expect(tools().at(-1)).toMatchObject({ facts: { name: 'ping' }, outcome: { status: 'denied' } })
  })

  it('a guarded 2.x client and a guarded server record one call each, linked by facts.call', async () => {
    const { session, raw, tools } = await setup()
    const client = guardMcpClient(session, raw, { resource: 'crm-client' })
    await client.callTool({ name: 'find', arguments: { name: 'Ada' } })
    const serverSide = tools().find((r) => r.resource?.name === 'crm-server')!
    const clientSide = tools().find((r) => r.resource?.name === 'crm-client')!
    expect(tools()).toHaveLength(2)
    expect(serverSide).toMatchObject({ resource: { name: 'crm-server' }, outcome: { status: 'ok' } })
    expect(clientSide).toMatchObject({ resource: { name: 'crm-client' }, outcome: { status: 'ok' } })
    expect(typeof serverSide.facts?.call).toBe('string')
    expect(clientSide.facts?.call).toBe(serverSide.facts?.call)
  })

  it('a call the server refused is recorded as denied on the client side too, with the server rule', async () => {
    const { session, raw, log, tools } = await setup()
    const client = guardMcpClient(session, raw, { resource: 'crm-client' })
    const r = (await client.callTool({ name: 'delete', arguments: { id: 1 } })) as { isError: boolean }
    expect(r.isError).toBe(true)
    expect(log).toEqual([])
    const serverSide = tools().find((r) => r.resource?.name === 'crm-server')!
    const clientSide = tools().find((r) => r.resource?.name === 'crm-client')!
    expect(tools()).toHaveLength(2)
    expect(serverSide).toMatchObject({
      decision: { rule: 'server-no-deletes' },
      outcome: { status: 'denied' },
    })
    expect(clientSide.decision?.effect).toBe('allow')
    expect(clientSide.outcome?.status).not.toBe('ok')
    expect(clientSide.facts?.call).toBe(serverSide.facts?.call)
  })

  it('refuses with ERR_WARDEN_UNSUPPORTED, not a TypeError, what is not an McpServer (the low-level Server)', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal: { id: 'a', type: 'agent' } })
    const low = new Server({ name: 'x', version: '1' }, { capabilities: {} })
    expect(() => guardMcpServer(session, low as never, { resource: 'crm-server' })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_UNSUPPORTED' }),
    )
    expect(() => guardMcpClient(session, {} as never, { resource: 'crm-client' })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_UNSUPPORTED' }),
    )
    await warden.close()
  })
})
