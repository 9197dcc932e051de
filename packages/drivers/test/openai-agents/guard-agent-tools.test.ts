// guardAgentTools on the real @openai/agents runner with a scripted Model (no network).
import { Agent, run, tool } from '@openai/agents'
import { autoDeny, createWarden } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { guardAgentTools } from '@warden/drivers/openai-agents'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { scriptedModel } from './scripted-model.js'

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
    tool({
      name: 'lookup',
      description: 'find a customer',
      parameters: z.object({ name: z.string() }),
      execute: async ({ name }) => {
        log.push(`lookup ${name}`)
        return JSON.stringify({ name, email: 'ada@example.org' })
      },
    }),
    tool({
      name: 'delete_account',
      description: 'delete',
      parameters: z.object({ id: z.number() }),
      execute: async ({ id }) => {
        log.push(`delete ${id}`)
        return 'deleted'
      },
    }),
    tool({
      name: 'refund',
      description: 'refund',
      parameters: z.object({ amount: z.number() }),
      execute: async ({ amount }) => {
        log.push(`refund ${amount}`)
        return `refunded ${amount}`
      },
    }),
  ]
}

async function open() {
  const audit = memorySink()
  const warden = createWarden({ policy, audit, approvals: autoDeny() })
  const session = await warden.session({ principal: { id: 'support-agent-1', type: 'agent' } })
  const toolRecords = () => audit.records.filter((r) => r.action === 'tool.call')
  return { warden, session, audit, toolRecords }
}

const once = (tool: string, args: unknown) =>
  scriptedModel(({ step, outputs }) =>
    step === 0 ? { calls: [{ tool, args }] } : { text: `saw ${outputs.join()}` },
  )

describe('guardAgentTools (OpenAI Agents SDK)', () => {
  it('allowed calls run with their JSON output masked before the model sees it', async () => {
    const { warden, session, toolRecords } = await open()
    const log: string[] = []
    const agent = new Agent({
      name: 'support',
      model: once('lookup', { name: 'Ada' }),
      tools: guardAgentTools(session, agentTools(log), { resource: 'support-agent' }),
    })
    const result = await session.run(() => run(agent, 'find Ada'))
    expect(log).toEqual(['lookup Ada'])
    expect(result.finalOutput).toContain('[redacted]')
    expect(result.finalOutput).not.toContain('ada@example.org')
    expect(toolRecords().map((r) => [r.decision?.rule, r.outcome?.status])).toEqual([['lookups', 'ok']])
    await warden.close()
  })

  it('deny is the input guardrail rejecting the call: it never runs, the model reads why, it is audited once', async () => {
    const { warden, session, toolRecords } = await open()
    const log: string[] = []
    const agent = new Agent({
      name: 'support',
      model: once('delete_account', { id: 9 }),
      tools: guardAgentTools(session, agentTools(log), { resource: 'support-agent' }),
    })
    const result = await session.run(() => run(agent, 'delete 9'))
    expect(log).toEqual([])
    expect(result.finalOutput).toContain('accounts are deleted by people')
    expect(toolRecords().map((r) => [r.decision?.rule, r.outcome?.status])).toEqual([
      ['no-deletes', 'denied'],
    ])
    await warden.close()
  })

  it('approve is a RunState interruption; state.approve() releases exactly that call, audited as approved', async () => {
    const { warden, session, audit, toolRecords } = await open()
    const log: string[] = []
    const agent = new Agent({
      name: 'support',
      model: once('refund', { amount: 500 }),
      tools: guardAgentTools(session, agentTools(log), { resource: 'support-agent', approvedBy: 'web-user' }),
    })
    const first = await session.run(() => run(agent, 'refund 500'))
    expect(log).toEqual([])
    expect(first.interruptions).toHaveLength(1)
    expect(first.interruptions[0].name).toBe('refund')
    expect(toolRecords()).toEqual([])
    first.state.approve(first.interruptions[0])
    const second = await session.run(() => run(agent, first.state))
    expect(log).toEqual(['refund 500'])
    expect(second.finalOutput).toContain('refunded 500')
    audit.expectRecord({
      decision: { effect: 'approve', rule: 'big-refunds' },
      approval: { status: 'approved', by: 'web-user' },
      outcome: { status: 'ok' },
    })
    await warden.close()
  })

  it('state.reject() never runs the call; without an answer from the run Warden’s own approver decides', async () => {
    const { warden, session, toolRecords } = await open()
    const log: string[] = []
    const agent = new Agent({
      name: 'support',
      model: once('refund', { amount: 500 }),
      tools: guardAgentTools(session, agentTools(log), { resource: 'support-agent' }),
    })
    const first = await session.run(() => run(agent, 'refund 500'))
    first.state.reject(first.interruptions[0])
    await session.run(() => run(agent, first.state))
    expect(log).toEqual([])
    // the SDK answers a rejected call itself; the guarded tool is invoked directly here: autoDeny decides
    const [refund] = guardAgentTools(session, agentTools(log), { resource: 'support-agent' }).slice(2)
    const out = await session.run(() =>
      (refund as unknown as { invoke: (c: unknown, i: string) => Promise<string> }).invoke(
        { isToolApproved: () => undefined },
        JSON.stringify({ amount: 900 }),
      ),
    )
    expect(JSON.parse(out)).toMatchObject({ denied: true, code: 'ERR_WARDEN_APPROVAL_REJECTED' })
    expect(log).toEqual([])
    expect(toolRecords().at(-1)?.approval?.status).toBe('rejected')
    await warden.close()
  })
})
