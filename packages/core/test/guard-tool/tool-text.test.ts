// What the approver reads for a guarded tool (its command text, which the fingerprint covers) says
// everything the tool will get: values JSON cannot spell (Maps, Sets, non-finite numbers, bytes) are
// spelled out, and arguments it cannot spell at all (cycles) are refused, never shown as "{}".
import { type ApprovalRequest, callbackApprover, createWarden, guardTool } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const policy = compilePolicy(`
rules:
  - name: refunds
    resources: ["tool:*"]
    when: 'tool.name == "refund"'
    effect: approve
    approval: { approvers: [support-leads], timeout: 1m }
`)

async function open() {
  const shown: ApprovalRequest[] = []
  const approvals = callbackApprover(async (request) => {
    shown.push(request)
    return true
  })
  const audit = memorySink()
  const warden = createWarden({ policy, audit, approvals })
  const session = await warden.session({ principal: { id: 'agent-9', type: 'agent' } })
  const ran: unknown[] = []
  const refund = guardTool(
    session,
    async (args: Record<string, unknown>) => {
      ran.push(args)
      return 'ok'
    },
    { resource: 'support-bot', name: 'refund' },
  )
  return { warden, refund, shown, ran }
}

describe('guardTool: the command text an approver reads', () => {
  it('spells out Maps, Sets, non-finite numbers and bytes instead of {} or null', async () => {
    const { warden, refund, shown } = await open()
    await refund({ order: 'o-1', amounts: new Map([['o-1', 250_000]]) })
    await refund({ order: 'o-2', amount: Number.POSITIVE_INFINITY, ids: new Set(['o-2', 'o-3']) })
    await refund({ order: 'o-3', raw: new Uint8Array([1, 2]).buffer })
    expect(shown[0].command).toContain('250000')
    expect(shown[0].command).not.toContain('"amounts":{}')
    expect(shown[1].command).toContain('Infinity')
    expect(shown[1].command).toContain('o-3')
    expect(shown[2].command).toContain('0102')
    // Different arguments, different operations.
    expect(new Set(shown.map((r) => r.fingerprint)).size).toBe(3)
    await warden.close()
  })

  it('refuses arguments with a cycle (they cannot be shown) before anything is decided or run', async () => {
    const { warden, refund, shown, ran } = await open()
    const args: Record<string, unknown> = { order: 'o-4', amount: 250_000 }
    args.self = args
    await expect(refund(args)).rejects.toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
    expect(shown).toHaveLength(0)
    expect(ran).toHaveLength(0)
    await warden.close()
  })
})
