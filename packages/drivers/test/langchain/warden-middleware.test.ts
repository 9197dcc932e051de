// wardenMiddleware on a real LangChain v1 agent (createAgent) with its fake tool-calling model and a
// LangGraph checkpointer: approvals are graph interrupts resumed with a Command.
import { Command, MemorySaver } from '@langchain/langgraph'
import { autoApprove, createWarden } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { wardenMiddleware } from '@warden/drivers/langchain'
import { compilePolicy } from '@warden/policy'
import { createAgent, FakeToolCallingModel, tool } from 'langchain'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'

const policy = compilePolicy(`
rules:
  - name: lookups
    resources: ["tool:support-agent"]
    when: 'tool.name == "lookup"'
    effect: allow
  - name: no-deletes
    resources: ["tool:support-agent"]
    when: 'tool.name == "delete_account"'
    effect: deny
    reason: accounts are deleted by people
  - name: big-refunds
    resources: ["tool:support-agent"]
    when: 'tool.name == "refund" && tool.args.amount > 100'
    effect: approve
    approval: { approvers: [leads], timeout: 1m }
masks:
  - name: emails
    columns: ["email"]
    strategy: redact
`)

function agentTools(log: string[]) {
  return [
    tool(
      async ({ name }) => {
        log.push(`lookup ${name}`)
        return JSON.stringify({ name, email: 'ada@example.org' })
      },
      { name: 'lookup', description: 'find', schema: z.object({ name: z.string() }) },
    ),
    tool(
      async ({ id }) => {
        log.push(`delete ${id}`)
        return 'deleted'
      },
      { name: 'delete_account', description: 'delete', schema: z.object({ id: z.number() }) },
    ),
    tool(
      async ({ amount }) => {
        log.push(`refund ${amount}`)
        return `refunded ${amount}`
      },
      { name: 'refund', description: 'refund', schema: z.object({ amount: z.number() }) },
    ),
  ]
}

// autoApprove as the Warden's approver: a test that an interrupt, not Warden's approver, decides
async function open() {
  const audit = memorySink()
  const warden = createWarden({ policy, audit, approvals: autoApprove() })
  const session = await warden.session({ principal: { id: 'support-agent-1', type: 'agent' } })
  const toolRecords = () => audit.records.filter((r) => r.action === 'tool.call')
  return { warden, session, audit, toolRecords }
}

function agentCalling(
  session: Parameters<typeof wardenMiddleware>[0],
  log: string[],
  name: string,
  args: object,
) {
  return createAgent({
    model: new FakeToolCallingModel({ toolCalls: [[{ name, args, id: 'call-1' }], []] }),
    tools: agentTools(log),
    checkpointer: new MemorySaver(),
    middleware: [wardenMiddleware(session, { resource: 'support-agent', approvedBy: 'lead-on-call' })],
  })
}

const toolMessages = (state: { messages: { getType(): string; content: unknown }[] }) =>
  state.messages.filter((m) => m.getType() === 'tool').map((m) => String(m.content))

describe('wardenMiddleware (LangChain v1 createAgent)', () => {
  it('allowed calls run and the model reads the masked result', async () => {
    const { warden, session, toolRecords } = await open()
    const log: string[] = []
    const agent = agentCalling(session, log, 'lookup', { name: 'Ada' })
    const state = await session.run(() =>
      agent.invoke(
        { messages: [{ role: 'user', content: 'find Ada' }] },
        { configurable: { thread_id: 't1' } },
      ),
    )
    expect(log).toEqual(['lookup Ada'])
    expect(toolMessages(state)).toEqual([JSON.stringify({ name: 'Ada', email: '[redacted]' })])
    expect(toolRecords().map((r) => [r.decision?.rule, r.outcome?.status])).toEqual([['lookups', 'ok']])
    await warden.close()
  })

  it('a denial never runs the tool: the model reads the refusal, audited', async () => {
    const { warden, session, toolRecords } = await open()
    const log: string[] = []
    const agent = agentCalling(session, log, 'delete_account', { id: 3 })
    const state = await session.run(() =>
      agent.invoke(
        { messages: [{ role: 'user', content: 'delete 3' }] },
        { configurable: { thread_id: 't2' } },
      ),
    )
    expect(log).toEqual([])
    expect(toolMessages(state)[0]).toContain('accounts are deleted by people')
    expect(toolRecords().map((r) => [r.decision?.rule, r.outcome?.status])).toEqual([
      ['no-deletes', 'denied'],
    ])
    await warden.close()
  })

  it('approve interrupts the graph; resuming with approved releases that call, audited with who approved', async () => {
    const { warden, session, audit, toolRecords } = await open()
    const log: string[] = []
    const agent = agentCalling(session, log, 'refund', { amount: 500 })
    const config = { configurable: { thread_id: 't3' } }
    const first = await session.run(() =>
      agent.invoke({ messages: [{ role: 'user', content: 'refund' }] }, config),
    )
    expect(log).toEqual([])
    expect(toolRecords()).toEqual([])
    const interrupts = (first as unknown as { __interrupt__: { value: unknown }[] }).__interrupt__
    expect(interrupts[0].value).toMatchObject({
      type: 'warden/approval',
      tool: 'refund',
      rule: 'big-refunds',
    })
    const state = await session.run(() => agent.invoke(new Command({ resume: { approved: true } }), config))
    expect(log).toEqual(['refund 500'])
    expect(toolMessages(state)).toEqual(['refunded 500'])
    audit.expectRecord({
      decision: { rule: 'big-refunds' },
      approval: { status: 'approved', by: 'lead-on-call' },
      outcome: { status: 'ok' },
    })
    await warden.close()
  })

  it('resuming with approved: false refuses the call (Warden’s own approver, autoApprove, is not asked)', async () => {
    const { warden, session, toolRecords } = await open()
    const log: string[] = []
    const agent = agentCalling(session, log, 'refund', { amount: 500 })
    const config = { configurable: { thread_id: 't4' } }
    await session.run(() => agent.invoke({ messages: [{ role: 'user', content: 'refund' }] }, config))
    const state = await session.run(() =>
      agent.invoke(new Command({ resume: { approved: false, reason: 'not today' } }), config),
    )
    expect(log).toEqual([])
    expect(toolMessages(state)[0]).toContain('ERR_WARDEN_APPROVAL_REJECTED')
    expect(toolRecords().map((r) => r.approval?.status)).toEqual(['rejected'])
    await warden.close()
  })
})
