import { PassThrough } from 'node:stream'
import { consoleApprover } from '@warden/core'
import { describe, expect, it } from 'vitest'
import { approvalRequest, dba } from './fixtures.js'

function tty(isTTY: boolean) {
  const input = Object.assign(new PassThrough(), { isTTY })
  const output = new PassThrough()
  let shown = ''
  output.on('data', (d: Buffer) => {
    shown += d.toString()
  })
  return { input, output, shown: () => shown }
}

const nextPrompt = (t: ReturnType<typeof tty>, n = 1) =>
  new Promise<void>((resolve) => {
    const check = () =>
      (t.shown().match(/Approve\? \[y\/N\]/g)?.length ?? 0) >= n ? resolve() : setImmediate(check)
    check()
  })

describe('consoleApprover', () => {
  it('refuses when there is no TTY, saying why', async () => {
    const t = tty(false)
    const req = approvalRequest()
    const outcome = await consoleApprover({ input: t.input, output: t.output, ...dba }).request(
      req,
      new AbortController().signal,
    )
    expect(outcome.status).toBe('rejected')
    expect(outcome.reason).toMatch(/no TTY/)
    expect(outcome.fingerprint).toBe(req.fingerprint)
    expect(t.shown()).toBe('')
  })

  it('shows who, what, why and the preview, and approves on "y"', async () => {
    const t = tty(true)
    const req = approvalRequest({ parameters: ['42', null, '\u202eok'] })
    const pending = consoleApprover({
      input: t.input,
      output: t.output,
      reviewer: 'ops-alice',
      ...dba,
    }).request(req, new AbortController().signal)
    await nextPrompt(t)
    expect(t.shown()).toContain('agent-7 (agent) wants sql.query on postgres:orders-prod')
    expect(t.shown()).toContain('DELETE FROM orders WHERE id = $1')
    expect(t.shown()).toContain('agent-writes (agent writes need a human)')
    expect(t.shown()).toContain('DELETE orders: 1 row')
    expect(t.shown()).toContain("values: $1 = '42', $2 = NULL, $3 = '\\u202eok'")
    t.input.write('y\n')
    await expect(pending).resolves.toMatchObject({
      status: 'approved',
      by: 'ops-alice',
      fingerprint: req.fingerprint,
      id: req.id,
    })
  })

  it('rejects on anything but yes', async () => {
    const t = tty(true)
    const approver = consoleApprover({ input: t.input, output: t.output, ...dba })
    const first = approver.request(approvalRequest(), new AbortController().signal)
    await nextPrompt(t)
    t.input.write('\n')
    await expect(first).resolves.toMatchObject({ status: 'rejected' })
    const second = approver.request(approvalRequest(), new AbortController().signal)
    await nextPrompt(t, 2)
    t.input.write('yess\n')
    await expect(second).resolves.toMatchObject({ status: 'rejected' })
  })

  it('asks one question at a time', async () => {
    const t = tty(true)
    const approver = consoleApprover({ input: t.input, output: t.output, ...dba })
    const a = approver.request(
      approvalRequest({ command: 'DELETE FROM a WHERE id = 1' }),
      new AbortController().signal,
    )
    const b = approver.request(
      approvalRequest({ command: 'DELETE FROM b WHERE id = 2' }),
      new AbortController().signal,
    )
    await nextPrompt(t)
    expect(t.shown()).toContain('DELETE FROM a')
    expect(t.shown()).not.toContain('DELETE FROM b')
    t.input.write('y\n')
    await expect(a).resolves.toMatchObject({ status: 'approved' })
    await nextPrompt(t, 2)
    t.input.write('n\n')
    await expect(b).resolves.toMatchObject({ status: 'rejected' })
  })

  it('a timeout (abort) ends the question as expired', async () => {
    const t = tty(true)
    const ac = new AbortController()
    const pending = consoleApprover({ input: t.input, output: t.output, ...dba }).request(
      approvalRequest(),
      ac.signal,
    )
    await nextPrompt(t)
    ac.abort()
    await expect(pending).resolves.toMatchObject({ status: 'expired' })
  })

  it('escapes terminal control characters in the command, so it cannot repaint the prompt', async () => {
    const t = tty(true)
    const pending = consoleApprover({ input: t.input, output: t.output, ...dba }).request(
      approvalRequest({ command: 'SELECT 1 -- \u001b[2K\u001b[1A\rlooks harmless\u00a0\u200b\u202e' }),
      new AbortController().signal,
    )
    await nextPrompt(t)
    expect(t.shown()).not.toContain('\u001b')
    expect(t.shown()).toContain('\\u001b[2K')
    expect(t.shown()).toContain('harmless\\u00a0\\u200b\\u202e')
    t.input.write('n\n')
    await pending
  })

  it('does not ask a reviewer the rule does not name, nor the requester, nor for a multi-approval rule', async () => {
    const ask = async (options: Parameters<typeof consoleApprover>[0], over = {}) => {
      const t = tty(true)
      const outcome = await consoleApprover({ input: t.input, output: t.output, ...options }).request(
        approvalRequest(over),
        new AbortController().signal,
      )
      // Refused before any question is shown: nothing on the terminal to answer.
      expect(t.shown()).toBe('')
      return outcome
    }
    const outsider = await ask({ reviewer: 'ops-bob', groups: ['web'] })
    expect(outsider).toMatchObject({ status: 'rejected' })
    expect(outsider.reason).toMatch(/ops-bob is not an approver of rule agent-writes \(needs dba-oncall\)/)
    // The requester is refused even when in the approver group, with Unicode case folding.
    const self = await ask(
      { reviewer: 'ÉMILE', ...dba },
      { principal: { id: 'émile', type: 'agent', groups: [], claims: {} } },
    )
    expect(self.reason).toMatch(/is the requester/)
    const many = await ask(dba, { groups: [{ approvers: ['dba-oncall'], minApprovals: 2 }] })
    expect(many.reason).toMatch(/dba-oncall \(2 approvals\); one terminal gives one approval/)
    expect(() => consoleApprover({ groups: 'dba' as unknown as string[] })).toThrow(/"groups" must be a list/)
  })
})
