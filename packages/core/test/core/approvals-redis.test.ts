// The pipeline with approvals shared through real Redis: two application instances and a reviewer.
import { type Command, createWarden, generateCheckpointKeys, redisApprovals } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'

const prefix = `warden-test:core-pipeline:${process.pid}:${Date.now()}:`
const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: false, maxRetriesPerRequest: 1 })
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
})

const policy = compilePolicy(`
rules:
  - name: agent-writes
    when: 'principal.type == "agent" && sql.write'
    effect: approve
    reason: agents need a human for writes
    approval: { approvers: [dba-oncall], timeout: 3s }
`)
const write = (text: string): Command => ({
  resource: { kind: 'postgres', name: 'orders' },
  action: 'sql.query',
  text,
  sql: {
    text,
    statements: [],
    types: ['UPDATE'],
    reads: [],
    writes: ['orders'],
    tables: ['orders'],
    write: true,
    unbounded: false,
    functions: [],
    flags: [],
    parsed: true,
    error: '',
  },
  preview: async () => ({ summary: 'UPDATE orders: 1 row', rowsAffected: [1] }),
})
const agent = { id: 'agent-7', type: 'agent' } as const
// The approver service's key: the deciding store signs with it, waiting instances trust its public half.
const keys = generateCheckpointKeys()
const waiting = { trustedKeys: [keys.publicKey] }
const deciding = { signingKey: keys.privateKey }
const dba = { groups: ['dba-oncall'] }

async function nextPending(store: ReturnType<typeof redisApprovals>) {
  for (;;) {
    const [first] = await store.pending()
    if (first) return first
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('pipeline + redisApprovals (real Redis)', () => {
  it('instance A waits; a reviewer on instance B approves; the command runs once, audited', async () => {
    const audit = memorySink()
    const a = redisApprovals({ redis: 'redis://127.0.0.1:6379', prefix, ...waiting })
    const b = redisApprovals({ redis: 'redis://127.0.0.1:6379', prefix, ...deciding })
    const warden = createWarden({ policy, audit, approvals: a })
    const session = await warden.session({ principal: agent })
    let runs = 0
    const pending = session.execute(write('UPDATE orders SET paid = true WHERE id = $1'), (ctx) => {
      runs++
      return ctx.approval
    })
    const record = await nextPending(b)
    expect(record.request).toMatchObject({
      principal: { id: 'agent-7' },
      rule: 'agent-writes',
      reason: 'agents need a human for writes',
      preview: { summary: 'UPDATE orders: 1 row' },
    })
    // the requester cannot approve itself
    await expect(
      b.decide(record.request.id, { status: 'approved', by: 'agent-7', ...dba }),
    ).rejects.toMatchObject({
      refusal: 'self-approval',
    })
    await b.decide(record.request.id, {
      status: 'approved',
      by: 'alice',
      ...dba,
      fingerprint: record.request.fingerprint,
    })
    const released = await pending
    expect(released?.id).toBe(record.request.id)
    expect(runs).toBe(1)
    audit.expectRecord({
      approval: { id: record.request.id, status: 'approved', by: 'alice' },
      outcome: { status: 'ok' },
    })
    // the decision was consumed: deciding again is refused
    await expect(b.decide(record.request.id, { status: 'approved', by: 'bob', ...dba })).rejects.toThrow()
    await warden.close()
    await a.close()
    await b.close()
  })

  it('a rejection anywhere refuses the command; no decision before the timeout expires it', async () => {
    const audit = memorySink()
    const a = redisApprovals({ redis: 'redis://127.0.0.1:6379', prefix, ...waiting, ...deciding })
    const warden = createWarden({ policy, audit, approvals: a })
    const session = await warden.session({ principal: agent })
    const pending = session.execute(write('UPDATE orders SET paid = false WHERE id = $1'), () => 'ran')
    const record = await nextPending(a)
    await a.decide(record.request.id, {
      status: 'rejected',
      by: 'bob',
      ...dba,
      reason: 'not during the freeze',
    })
    await expect(pending).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_REJECTED',
      message: expect.stringContaining('not during the freeze'),
    })
    audit.expectRecord({ approval: { status: 'rejected', by: 'bob' }, outcome: { status: 'rejected' } })

    await expect(
      session.execute(write('DELETE FROM orders WHERE id = $1'), () => 'ran'),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_EXPIRED' })
    audit.expectRecord({ command: 'DELETE FROM orders WHERE id = $1', outcome: { status: 'expired' } })
    await warden.close()
    await a.close()
  })
})
