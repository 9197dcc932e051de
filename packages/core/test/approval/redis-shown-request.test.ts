// What the approver is shown is what runs, even against whoever can write to Redis: the parts of a
// stored request that the fingerprint does not cover (bound values as shown, the preview, the
// reason, the approvers listed) are bound by the request digest in the signed decision. Real
// Redis, the real pipeline; the attacker writes with plain Redis commands.
import { type Command, createWarden, generateCheckpointKeys, redisApprovals } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { until } from './fixtures.js'

const prefix = `warden-test:shown:${process.pid}:${Date.now()}:`
const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
})

const policy = compilePolicy(`
rules:
  - name: agent-writes
    when: 'principal.type == "agent"'
    effect: approve
    approval: { approvers: [dba-oncall], timeout: 20s }
`)
const service = generateCheckpointKeys()
const dba = { groups: ['dba-oncall'] }

async function held(command: Command) {
  const audit = memorySink()
  const store = redisApprovals({
    redis: redis.duplicate(),
    prefix,
    pollMs: 20,
    trustedKeys: [service.publicKey],
  })
  const warden = createWarden({ policy, audit, approvals: store })
  const session = await warden.session({ principal: { id: 'agent-7', type: 'agent' } })
  let runs = 0
  const result = session
    .execute(command, () => {
      runs++
      return 'ran'
    })
    .then(
      (value) => ({ value }),
      (error: { code?: string; message: string }) => ({ error }),
    )
  const record = await until(async () =>
    (await store.pending()).find((r) => r.request.command === command.text),
  )
  return {
    request: record.request,
    key: `${prefix}req:${record.request.id}`,
    audit,
    runs: () => runs,
    async settle() {
      const r = await result
      await warden.close()
      await store.close()
      return r
    },
  }
}

const update = (text: string, parameters: unknown[]): Command => ({
  resource: { kind: 'postgres', name: 'accounts' },
  action: 'sql.query',
  text,
  parameters,
})

describe('redisApprovals: the request the approver is shown is bound to the decision', () => {
  it('bound values shown to the approver altered in Redis (fingerprint kept): the approval never runs the real values', async () => {
    const h = await held(update('UPDATE acct SET balance = $1 WHERE id = $2', [-999999, 7]))
    expect(h.request.parameters).toEqual(['-999999', '7'])
    // The attacker rewrites only what the reviewer reads: the values and the preview.
    const stored = JSON.parse((await redis.hget(h.key, 'request'))!) as Record<string, unknown>
    await redis.hset(
      h.key,
      'request',
      JSON.stringify({ ...stored, parameters: ['250', '7'], preview: { summary: 'UPDATE acct: 1 row' } }),
    )
    const deciding = redisApprovals({ redis: redis.duplicate(), prefix, signingKey: service.privateKey })
    const shown = await deciding.get(h.request.id)
    expect(shown?.request.parameters).toEqual(['250', '7'])
    await deciding.decide(h.request.id, { status: 'approved', by: 'alice', ...dba })
    const r = await h.settle()
    await deciding.close()
    expect(h.runs()).toBe(0)
    expect(r).toMatchObject({ error: { code: 'ERR_WARDEN_APPROVAL_MISMATCH' } })
    h.audit.expectRecord({
      approval: { id: h.request.id, status: 'mismatch' },
      outcome: { status: 'rejected' },
    })
    h.audit.expectNoRecord({ outcome: { status: 'ok' } })
  })

  it('a decision naming the digest of another shown request (swapped between display and decide) is refused by the store', async () => {
    const h = await held(update('UPDATE acct SET balance = $1 WHERE id = $2', [-5, 8]))
    const deciding = redisApprovals({ redis: redis.duplicate(), prefix, signingKey: service.privateKey })
    const genuine = await deciding.get(h.request.id)
    expect(genuine?.requestDigest).toMatch(/^sha256:/)
    await expect(
      deciding.decide(h.request.id, {
        status: 'approved',
        by: 'alice',
        ...dba,
        requestDigest: `sha256:${'0'.repeat(64)}`,
      }),
    ).rejects.toMatchObject({ refusal: 'fingerprint' })
    // The genuine digest decides, and the command runs.
    await deciding.decide(h.request.id, {
      status: 'approved',
      by: 'alice',
      ...dba,
      requestDigest: genuine!.requestDigest,
    })
    expect(await h.settle()).toEqual({ value: 'ran' })
    await deciding.close()
  })
})
