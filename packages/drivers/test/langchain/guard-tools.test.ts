import { ToolMessage } from '@langchain/core/messages'
import { DynamicStructuredTool, StructuredTool, tool } from '@langchain/core/tools'
import { autoApprove, autoDeny, createWarden } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { guardLangChainTool, guardTools } from '@warden/drivers/langchain'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'

const policy = compilePolicy(`
rules:
  - name: agent-tools
    resources: ["tool:lc-agent"]
    when: 'tool.name in ["lookup", "notify", "progress", "lookup_with_artifact"]'
    effect: allow
  - name: lookups-are-pii
    resources: ["tool:lc-agent"]
    when: 'tool.name == "lookup"'
    effect: allow
    tags: [pii]
  - name: no-notify-after-pii
    resources: ["tool:lc-agent"]
    when: '"pii" in flow.tags && tool.name == "notify"'
    effect: deny
    reason: no notifications once PII was read in this run
  - name: refunds
    resources: ["tool:lc-agent"]
    when: 'tool.name == "refund"'
    effect: approve
    approval: { approvers: [leads], timeout: 1m }
masks:
  - name: phones
    columns: ["phone"]
    strategy: partial
`)

const PHONE = '+1 202 555 0143'
const log: string[] = []
const lookup = tool(
  async ({ id }) => {
    log.push(`lookup ${id}`)
    return { id, phone: PHONE }
  },
  { name: 'lookup', description: 'look up a customer', schema: z.object({ id: z.number() }) },
)
const notify = tool(
  async ({ text }) => {
    log.push(`notify ${text}`)
    return 'sent'
  },
  { name: 'notify', description: 'notify the team', schema: z.object({ text: z.string() }) },
)
const refund = tool(
  async ({ amount }) => {
    log.push(`refund ${amount}`)
    return `refunded ${amount}`
  },
  { name: 'refund', description: 'refund', schema: z.object({ amount: z.number() }) },
)

async function open(approvals = autoDeny()) {
  const audit = memorySink()
  const warden = createWarden({ policy, audit, approvals })
  const session = await warden.session({ principal: { id: 'lc-1', type: 'agent' } })
  return { warden, session, audit }
}

describe('LangChain tools', () => {
  it('keeps the tool (class, name, schema) and masks its output; audited with the tool name', async () => {
    log.length = 0
    const { warden, session, audit } = await open()
    const [g] = guardTools(session, [lookup], { resource: 'lc-agent' })
    expect(g).toBeInstanceOf(DynamicStructuredTool)
    expect(g).toBeInstanceOf(StructuredTool)
    expect(g.name).toBe('lookup')
    expect(g.schema).toBe(lookup.schema)
    const out = (await g.invoke({ id: 7 })) as { id: number; phone: string }
    expect(out.id).toBe(7)
    expect(out.phone).not.toBe(PHONE)
    expect(log).toEqual(['lookup 7'])
    audit.expectRecord({
      action: 'tool.call',
      command: 'lookup {"id":7}',
      outcome: { status: 'ok' },
      masked: [{ column: 'phone', strategy: 'partial', count: 1 }],
    })
    // input validation is still the tool's own
    await expect(g.invoke({ id: 'seven' } as never)).rejects.toThrow(/did not match expected schema/)
    await warden.close()
  })

  it('a refusal is the ToolMessage content the model reads; flow across calls in one run', async () => {
    log.length = 0
    const { warden, session } = await open()
    const [gl, gn] = guardTools(session, [lookup, notify], { resource: 'lc-agent' })
    await session.run(async () => {
      expect(await gn.invoke({ text: 'hello' })).toBe('sent')
      await gl.invoke({ id: 1 })
      const message = await gn.invoke({
        id: 'call-1',
        name: 'notify',
        args: { text: 'the phone is ...' },
        type: 'tool_call',
      })
      expect(message).toBeInstanceOf(ToolMessage)
      const body = JSON.parse(String((message as ToolMessage).content))
      expect(body).toMatchObject({
        denied: true,
        code: 'ERR_WARDEN_DENIED',
        rule: 'no-notify-after-pii',
        tool: 'notify',
      })
      expect(body.message).toContain('blocked by policy')
    })
    expect(log).toEqual(['notify hello', 'lookup 1'])
    await warden.close()
  })

  it('approve holds the call for the Warden approver', async () => {
    log.length = 0
    const approvals = autoApprove({ by: 'lead-kim' })
    const { warden, session, audit } = await open(approvals)
    const g = guardLangChainTool(session, refund, { resource: 'lc-agent' })
    expect(await g.invoke({ amount: 300 })).toBe('refunded 300')
    expect(approvals.requests.map((r) => r.command)).toEqual(['refund {"amount":300}'])
    audit.expectRecord({ approval: { status: 'approved', by: 'lead-kim' } })
    const denied = await open(autoDeny())
    const d = guardLangChainTool(denied.session, refund, { resource: 'lc-agent' })
    expect(await d.invoke({ amount: 300 })).toMatchObject({
      denied: true,
      code: 'ERR_WARDEN_APPROVAL_REJECTED',
      rule: 'refunds',
    })
    expect(log).toEqual(['refund 300'])
    await denied.warden.close()
    await warden.close()
  })

  it('generator tools and content_and_artifact tools are masked and refused in their own shapes', async () => {
    const { warden, session } = await open()
    const progress = new DynamicStructuredTool({
      name: 'progress',
      description: 'streams',
      schema: z.object({}),
      func: async function* () {
        yield { step: 1, phone: PHONE }
        return { done: true, phone: PHONE }
      } as never,
    })
    const g = guardLangChainTool(session, progress, { resource: 'lc-agent' })
    const out = await g.invoke({})
    expect(out).toMatchObject({ done: true })
    expect(JSON.stringify(out)).not.toContain(PHONE)
    const withArtifact = tool(async () => ['content', { phone: PHONE }], {
      name: 'secret_artifact',
      description: 'x',
      schema: z.object({}),
      responseFormat: 'content_and_artifact',
    })
    const ga = guardLangChainTool(session, withArtifact, { resource: 'lc-agent' })
    const message = (await ga.invoke({
      id: 'c9',
      name: 'secret_artifact',
      args: {},
      type: 'tool_call',
    })) as ToolMessage
    expect(JSON.parse(String(message.content))).toMatchObject({ denied: true, rule: 'default' })
    expect(message.artifact).toMatchObject({ denied: true })
    expect(() => guardLangChainTool(session, {} as never, { resource: 'x' })).toThrow(TypeError)
    await warden.close()
  })
})
