// The requester never approves their own command, however their principal id is spelled: invisible
// characters (zero-width space, soft hyphen, bidi marks) do not make them someone else. Real pipeline.
import { createWarden } from '@warden/core'
import { memoryApprovals, memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'
import { until } from './fixtures.js'

const policy = compilePolicy(`
rules:
  - name: writes
    when: 'true'
    effect: approve
    approval: { approvers: [dba-oncall], timeout: 20s }
`)

describe('self-approval with an invisibly different principal id', () => {
  for (const id of ['alice\u200b', 'al\u00adice', '\u200ealice']) {
    it(`${JSON.stringify(id)} cannot be approved by alice`, async () => {
      const store = memoryApprovals({ pollMs: 20 })
      const audit = memorySink()
      const warden = createWarden({ policy, audit, approvals: store })
      const session = await warden.session({ principal: { id, type: 'user' } })
      let runs = 0
      const result = session
        .execute(
          { resource: { kind: 'postgres', name: 'orders' }, action: 'sql.query', text: 'DELETE FROM orders' },
          () => {
            runs++
          },
        )
        .catch((e: { code?: string }) => e)
      const record = await until(async () => (await store.pending())[0])
      await expect(
        store.decide(record.id, { status: 'approved', by: 'alice', groups: ['dba-oncall'] }),
      ).rejects.toMatchObject({ refusal: 'self-approval' })
      await store.decide(record.id, { status: 'rejected', by: 'alice', reason: 'withdrawn' })
      expect(await result).toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED' })
      expect(runs).toBe(0)
      await warden.close()
    })
  }
})
