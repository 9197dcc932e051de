import { ApprovalDecisionError } from '@warden/core'
import { memoryApprovals } from '@warden/core/testing'
import { describe, expect, it } from 'vitest'
import { approvalRequest, dba } from './fixtures.js'

describe('memoryApprovals (the same contract as redisApprovals, in process)', () => {
  it('approves once; the decision is single-use', async () => {
    const store = memoryApprovals()
    const req = approvalRequest()
    await store.open(req)
    expect((await store.pending()).map((r) => r.id)).toEqual([req.id])
    await store.decide(req.id, { status: 'approved', by: 'alice', ...dba })
    await expect(store.wait(req, new AbortController().signal)).resolves.toMatchObject({
      status: 'approved',
      by: 'alice',
      fingerprint: req.fingerprint,
    })
    await expect(store.wait(req, new AbortController().signal)).resolves.toMatchObject({ status: 'expired' })
  })

  it('refuses self-approval (but lets the requester withdraw by rejecting) and double decisions', async () => {
    const store = memoryApprovals()
    const req = approvalRequest()
    await store.open(req)
    await expect(store.decide(req.id, { status: 'approved', by: 'AGENT-7' })).rejects.toBeInstanceOf(
      ApprovalDecisionError,
    )
    await store.decide(req.id, { status: 'rejected', by: 'agent-7', reason: 'never mind' })
    await expect(store.decide(req.id, { status: 'approved', by: 'alice', ...dba })).rejects.toMatchObject({
      refusal: 'decided',
    })
  })

  it('expires on time and on abort, removing the request', async () => {
    const store = memoryApprovals()
    const soon = approvalRequest({ expiresAt: new Date(Date.now() + 50) })
    await expect(store.request(soon, new AbortController().signal)).resolves.toMatchObject({
      status: 'expired',
    })
    expect(await store.get(soon.id)).toBeUndefined()
    const ac = new AbortController()
    const later = approvalRequest()
    const p = store.request(later, ac.signal)
    ac.abort()
    await expect(p).resolves.toMatchObject({ status: 'expired' })
    await expect(store.decide(later.id, { status: 'approved', by: 'alice', ...dba })).rejects.toMatchObject({
      refusal: 'unknown',
    })
  })
})
