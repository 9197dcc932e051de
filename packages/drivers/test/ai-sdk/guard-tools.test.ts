import { autoApprove, autoDeny, createWarden } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { guardTools } from '@warden/drivers/ai-sdk'
import { compilePolicy } from '@warden/policy'
import type { ModelMessage } from 'ai'
import * as ai7 from 'ai'
import * as ai6 from 'ai6'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { scriptedModel as scriptedModelOf } from './scripted-model.js'

// The same cases against AI SDK 7 and 6 (installed as the `ai6` alias): both are supported majors.
const SDKS = [
  { major: 7 as const, sdk: ai7 },
  { major: 6 as const, sdk: ai6 as unknown as typeof ai7 },
]

const policy = compilePolicy(`
rules:
  - name: support-tools
    resources: ["tool:support-agent"]
    when: 'tool.name in ["lookup_customer", "send_email", "count_up"]'
    effect: allow
  - name: no-exfiltration-after-pii
    resources: ["tool:support-agent"]
    when: '"pii" in flow.tags && tool.name == "send_email" && !tool.args.to.endsWith("@example.com")'
    effect: deny
    reason: customer data was read in this run; email may only go to example.com
  - name: big-refunds
    resources: ["tool:support-agent"]
    when: 'tool.name == "refund" && tool.args.amount > 100'
    effect: approve
    approval: { approvers: [support-leads], timeout: 1m }
  - name: small-refunds
    resources: ["tool:support-agent"]
    when: 'tool.name == "refund" && tool.args.amount <= 100'
    effect: allow
masks:
  - name: customer-email
    resources: ["tool:*"]
    columns: ["email"]
    strategy: partial
    tags: [pii]
`)

const EMAIL = 'grace.hopper@navy.example.org'

function toolsOf(tool: typeof ai7.tool, log: string[]) {
  return {
    lookup_customer: tool({
      description: 'Find a customer by name',
      inputSchema: z.object({ name: z.string() }),
      execute: async ({ name }) => {
        log.push(`lookup ${name}`)
        return { id: 42, name, email: EMAIL }
      },
    }),
    send_email: tool({
      description: 'Send an email',
      inputSchema: z.object({ to: z.string(), body: z.string() }),
      execute: async ({ to }) => {
        log.push(`email ${to}`)
        return { sent: true, to }
      },
    }),
    refund: tool({
      description: 'Refund an order',
      inputSchema: z.object({ order: z.string(), amount: z.number() }),
      execute: async ({ order, amount }) => {
        log.push(`refund ${order} ${amount}`)
        return { refunded: amount }
      },
    }),
    count_up: tool({
      description: 'Streams progress',
      inputSchema: z.object({}),
      async *execute() {
        yield { progress: 1, email: EMAIL }
        yield { progress: 2, email: EMAIL, done: true }
      },
    }),
  }
}

async function open(approvals = autoDeny()) {
  const audit = memorySink()
  const warden = createWarden({ policy, audit, approvals })
  const session = await warden.session({ principal: { id: 'support-agent-1', type: 'agent' } })
  return { warden, session, audit }
}

describe.each(SDKS)('guardTools (AI SDK $major)', ({ major, sdk }) => {
  const { generateText, stepCountIs, tool } = sdk
  const tools = (log: string[]) => toolsOf(tool, log)
  const scriptedModel = (script: Parameters<typeof scriptedModelOf>[0]) => scriptedModelOf(script, major)

  it('masks results before the model sees them, refuses exfiltration after PII, and the model recovers', async () => {
    const { warden, session, audit } = await open()
    const log: string[] = []
    const seenByModel: string[] = []
    const model = scriptedModel(({ step, results, prompt }) => {
      seenByModel.push(JSON.stringify(prompt))
      if (step === 0) return { calls: [{ tool: 'lookup_customer', input: { name: 'Grace' } }] }
      if (step === 1)
        return { calls: [{ tool: 'send_email', input: { to: 'someone@gmail.test', body: 'hi' } }] }
      const refusal = results[0]?.output as { denied?: boolean; rule?: string }
      if (step === 2 && refusal?.denied)
        return { calls: [{ tool: 'send_email', input: { to: 'support@example.com', body: 'escalating' } }] }
      return { text: 'done' }
    })
    const result = await session.run(() =>
      generateText({
        model,
        tools: guardTools(session, tools(log), { resource: 'support-agent' }),
        prompt: 'help Grace',
        stopWhen: stepCountIs(6),
      }),
    )
    expect(result.text).toBe('done')
    expect(log).toEqual(['lookup Grace', 'email support@example.com'])
    const outputs = result.steps.flatMap((s) => s.toolResults.map((r) => r.output))
    expect((outputs[0] as { email: string }).email).not.toBe(EMAIL)
    expect(outputs[1]).toMatchObject({
      denied: true,
      code: 'ERR_WARDEN_DENIED',
      rule: 'no-exfiltration-after-pii',
      tool: 'send_email',
    })
    expect(outputs[2]).toEqual({ sent: true, to: 'support@example.com' })
    // the model never saw the raw email; it did see the refusal's message
    expect(seenByModel.join('\n')).not.toContain(EMAIL)
    expect(seenByModel[2]).toContain('blocked by policy')
    audit.expectRecord({
      action: 'tool.call',
      command: 'send_email {"to":"someone@gmail.test","body":"hi"}',
      outcome: { status: 'denied' },
    })
    expect(audit.records.filter((r) => r.action === 'tool.call').map((r) => r.outcome?.status)).toEqual([
      'ok',
      'denied',
      'ok',
    ])
    await warden.close()
  })

  it('tool calls of one step run as siblings: a call made before the model saw a result is not tainted by it', async () => {
    const { warden, session } = await open()
    const log: string[] = []
    const model = scriptedModel(({ step, results }) => {
      if (step === 0)
        return {
          calls: [
            { tool: 'lookup_customer', input: { name: 'Grace' } },
            { tool: 'send_email', input: { to: 'someone@gmail.test', body: 'weekly digest' } },
          ],
        }
      if (step === 1)
        return {
          calls: [
            {
              tool: 'send_email',
              input: { to: 'someone@gmail.test', body: JSON.stringify(results[0]?.output) },
            },
          ],
        }
      return { text: 'done' }
    })
    const result = await session.run(() =>
      generateText({
        model,
        tools: guardTools(session, tools(log), { resource: 'support-agent' }),
        prompt: 'x',
        stopWhen: stepCountIs(4),
      }),
    )
    const outputs = result.steps.map((s) =>
      s.toolResults.map((r) => [r.toolName, (r.output as { denied?: boolean }).denied === true]),
    )
    // step 1: both ran (the email was written before the lookup's result existed); step 2: the email after it is refused
    expect(outputs[0]).toEqual([
      ['lookup_customer', false],
      ['send_email', false],
    ])
    expect(outputs[1]).toEqual([['send_email', true]])
    expect(log).toEqual(['lookup Grace', 'email someone@gmail.test'])
    await warden.close()
  })

  it("approve maps to the SDK's needsApproval; the user's approval in the history releases exactly that call", async () => {
    const { warden, session, audit } = await open(autoDeny())
    const log: string[] = []
    const guarded = guardTools(session, tools(log), { resource: 'support-agent', approvedBy: 'web-user' })
    const model = scriptedModel(({ results }) =>
      results.length === 0
        ? { calls: [{ tool: 'refund', input: { order: 'o-9', amount: 250 } }] }
        : { text: `result: ${JSON.stringify(results[0].output)}` },
    )
    const messages: ModelMessage[] = [{ role: 'user', content: 'refund o-9' }]
    const first = await session.run(() =>
      generateText({ model, tools: guarded, messages, stopWhen: stepCountIs(4) }),
    )
    // held by the SDK: nothing ran, nothing was audited yet
    expect(log).toEqual([])
    const request = first.content.find((p) => p.type === 'tool-approval-request')
    expect(request).toMatchObject({ type: 'tool-approval-request', toolCall: { toolName: 'refund' } })
    messages.push(...first.response.messages)
    messages.push({
      role: 'tool',
      content: [
        {
          type: 'tool-approval-response',
          approvalId: (request as { approvalId: string }).approvalId,
          approved: true,
        },
      ],
    })
    const second = await session.run(() =>
      generateText({ model, tools: guarded, messages, stopWhen: stepCountIs(4) }),
    )
    expect(log).toEqual(['refund o-9 250'])
    expect(second.text).toBe('result: {"refunded":250}')
    audit.expectRecord({
      action: 'tool.call',
      approval: { status: 'approved', by: 'web-user' },
      decision: { effect: 'approve', rule: 'big-refunds' },
      outcome: { status: 'ok' },
    })
    await warden.close()
  })

  it('a rejection in the SDK never runs the tool; small refunds need no approval', async () => {
    const { warden, session, audit } = await open(autoApprove())
    const log: string[] = []
    const guarded = guardTools(session, tools(log), { resource: 'support-agent' })
    const refund = guarded.refund
    const needs = refund.needsApproval as (
      input: unknown,
      o: { toolCallId: string; messages: ModelMessage[] },
    ) => Promise<boolean>
    expect(await needs({ order: 'o-1', amount: 20 }, { toolCallId: 'c1', messages: [] })).toBe(false)
    expect(await needs({ order: 'o-1', amount: 2000 }, { toolCallId: 'c2', messages: [] })).toBe(true)
    // the rejection travels in the SDK's own messages: the SDK reports execution-denied and never calls execute
    const model = scriptedModel(({ results }) =>
      results.length === 0
        ? { calls: [{ tool: 'refund', input: { order: 'o-2', amount: 900 } }] }
        : { text: JSON.stringify(results[0].output) },
    )
    const messages: ModelMessage[] = [{ role: 'user', content: 'refund o-2' }]
    const first = await session.run(() => generateText({ model, tools: guarded, messages }))
    const request = first.content.find((p) => p.type === 'tool-approval-request') as { approvalId: string }
    messages.push(...first.response.messages, {
      role: 'tool',
      content: [
        {
          type: 'tool-approval-response',
          approvalId: request.approvalId,
          approved: false,
          reason: 'too much',
        },
      ],
    })
    const second = await session.run(() =>
      generateText({ model, tools: guarded, messages, stopWhen: stepCountIs(3) }),
    )
    expect(second.text).toContain('execution-denied')
    expect(log).toEqual([])
    expect(audit.commands()).toHaveLength(0)
    await warden.close()
  })

  it('without an SDK approval (direct execute, or sdkApproval: false) the Warden approver decides', async () => {
    const { warden, session, audit } = await open(autoDeny())
    const log: string[] = []
    const guarded = guardTools(session, tools(log), { resource: 'support-agent' })
    const out = await guarded.refund.execute!(
      { order: 'o-3', amount: 500 },
      { toolCallId: 'x', messages: [] },
    )
    expect(out).toMatchObject({ denied: true, code: 'ERR_WARDEN_APPROVAL_REJECTED', rule: 'big-refunds' })
    expect(log).toEqual([])
    const approver = autoApprove({ by: 'pager-lead' })
    const w2 = createWarden({ policy, audit: memorySink(), approvals: approver })
    const s2 = await w2.session({ principal: { id: 'a', type: 'agent' } })
    const held = guardTools(s2, tools(log), { resource: 'support-agent', sdkApproval: false })
    expect(held.refund.needsApproval).toBeUndefined()
    expect(
      await held.refund.execute!({ order: 'o-4', amount: 500 }, { toolCallId: 'y', messages: [] }),
    ).toEqual({ refunded: 500 })
    expect(approver.requests).toHaveLength(1)
    audit.expectRecord({ outcome: { status: 'rejected' } })
    await w2.close()
    await warden.close()
  })

  it('streamed (preliminary) results are masked chunk by chunk', async () => {
    const { warden, session } = await open()
    const guarded = guardTools(session, tools([]), { resource: 'support-agent' })
    const stream = (await guarded.count_up.execute!({}, { toolCallId: 'z', messages: [] })) as AsyncIterable<{
      progress: number
      email: string
    }>
    const chunks: { progress: number; email: string }[] = []
    for await (const c of stream) chunks.push(c)
    expect(chunks.map((c) => c.progress)).toEqual([1, 2])
    expect(JSON.stringify(chunks)).not.toContain(EMAIL)
    await warden.close()
  })

  it("a tool's own toModelOutput never receives a refusal", async () => {
    const { warden, session } = await open()
    const custom = {
      secret_tool: tool({
        inputSchema: z.object({}),
        execute: async () => ({ value: 1 }),
        toModelOutput: ({ output }) => ({
          type: 'text',
          value: `value=${(output as { value: number }).value.toFixed(0)}`,
        }),
      }),
    }
    const guarded = guardTools(session, custom, { resource: 'support-agent' })
    const out = await guarded.secret_tool.execute!({}, { toolCallId: 'q', messages: [] })
    expect(out).toMatchObject({ denied: true, rule: 'default' })
    const model = await guarded.secret_tool.toModelOutput!({
      toolCallId: 'q',
      input: {},
      output: out as never,
    })
    expect(model).toMatchObject({ type: 'json', value: { denied: true, rule: 'default' } })
    await warden.close()
  })
})
