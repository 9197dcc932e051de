// Tool results that are JSON strings (LangChain's normal tool output; AI SDK tools may return them
// too) are masked as the JSON they hold: the column mask applies by key, the audit says so.
import { tool as lcTool } from '@langchain/core/tools'
import { createWarden } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { guardTools as guardAiTools } from '@warden/drivers/ai-sdk'
import { guardTools as guardLcTools } from '@warden/drivers/langchain'
import { compilePolicy } from '@warden/policy'
import { tool as aiTool } from 'ai'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'

const policy = compilePolicy(`
rules:
  - name: json-tools
    resources: ["tool:json-agent"]
    when: 'tool.name == "lookup"'
    effect: allow
masks:
  - name: emails
    columns: ["email"]
    strategy: partial
  - name: cards
    detectors: [credit_card]
    strategy: redact
`)

const CANARY_EMAIL = 'canary.jsonstring@leak.example.com'
const CARD = '4111 1111 1111 1111'

async function open() {
  const audit = memorySink()
  const warden = createWarden({ policy, audit })
  const session = await warden.session({ principal: { id: 'json-1', type: 'agent' } })
  return { warden, session, audit }
}

describe('tools returning JSON strings', () => {
  it('LangChain: the string is masked by key and detector and stays a JSON string', async () => {
    const { warden, session, audit } = await open()
    const lookup = lcTool(async () => JSON.stringify({ id: 1, email: CANARY_EMAIL, note: `card ${CARD}` }), {
      name: 'lookup',
      description: 'look up',
      schema: z.object({ id: z.number() }),
    })
    const [g] = guardLcTools(session, [lookup], { resource: 'json-agent' })
    const out = await g.invoke({ id: 1 })
    expect(typeof out).toBe('string')
    expect(JSON.parse(out as string)).toEqual({
      id: 1,
      email: '***@leak.example.com',
      note: 'card [redacted]',
    })
    await warden.close()
    expect(JSON.stringify(audit.records)).not.toContain('canary.jsonstring')
    const masked = audit.records.flatMap((r) => (r as { masked?: unknown[] }).masked ?? [])
    expect(masked).toContainEqual({ column: 'email', strategy: 'partial', count: 1 })
    expect(masked).toContainEqual({ column: 'note', strategy: 'redact', count: 1 })
  })

  it('AI SDK: a JSON string result is masked the same way; plain text is still scanned', async () => {
    const { warden, session } = await open()
    const tools = guardAiTools(
      session,
      {
        lookup: aiTool({
          description: 'look up',
          inputSchema: z.object({ id: z.number() }),
          execute: async ({ id }) =>
            id === 1 ? JSON.stringify([{ email: CANARY_EMAIL }]) : `paid with ${CARD}`,
        }),
      },
      { resource: 'json-agent' },
    )
    const run = (id: number) =>
      (tools.lookup.execute as (a: unknown, o: unknown) => Promise<unknown>)(
        { id },
        { toolCallId: `c${id}`, messages: [] },
      )
    expect(JSON.parse((await run(1)) as string)).toEqual([{ email: '***@leak.example.com' }])
    expect(await run(2)).toBe('paid with [redacted]')
    await warden.close()
  })
})
