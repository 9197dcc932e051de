// Approvals held against whoever can write to Redis: every way of planting or altering a decision in
// the store by hand ends in an audited refusal, and the held command never runs. Real Redis, the
// real pipeline; the attacker writes with plain Redis commands.
import { createHash, sign } from 'node:crypto'
import { type Command, createWarden, generateCheckpointKeys, redisApprovals } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { until } from './fixtures.js'

const prefix = `warden-test:forgery:${process.pid}:${Date.now()}:`
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
  - name: two-person
    when: 'principal.type == "service"'
    effect: approve
    approval: { approvers: [dba-oncall], minApprovals: 2, timeout: 20s }
`)
const command = (text: string): Command => ({
  resource: { kind: 'postgres', name: 'orders' },
  action: 'sql.query',
  text,
})

const service = generateCheckpointKeys()
const attacker = generateCheckpointKeys()
const dba = { groups: ['dba-oncall'] }

/** A decision sealed the way the store seals one, with any key and any claims (the attacker's tool). */
function seal(claims: Record<string, unknown>, key: { privateKey: string; kid: string }): string {
  const text = JSON.stringify(claims)
  const sig = sign(null, Buffer.from(`warden.approval-decision.v1\n${text}`), key.privateKey)
  return JSON.stringify({ claims: text, kid: key.kid, sig: sig.toString('base64url') })
}

/** An app instance (trusts the service key) holding one command, the request as the store shows it, and the audit. */
async function held(text: string, principal: { id: string; type: 'agent' | 'service' } = agent) {
  const audit = memorySink()
  const store = redisApprovals({
    redis: redis.duplicate(),
    prefix,
    pollMs: 20,
    trustedKeys: [service.publicKey],
  })
  const warden = createWarden({ policy, audit, approvals: store })
  const session = await warden.session({ principal })
  let runs = 0
  const result = session
    .execute(command(text), () => {
      runs++
      return 'ran'
    })
    .then(
      (value) => ({ value }),
      (error: { code?: string }) => ({ error }),
    )
  const record = await until(async () => (await store.pending()).find((r) => r.request.command === text))
  const key = `${prefix}req:${record.request.id}`
  return {
    request: record.request,
    key,
    audit,
    runs: () => runs,
    /** Wakes the waiter at once (it also polls). */
    poke: () => redis.publish(`${prefix}events`, JSON.stringify({ type: 'decided', id: record.request.id })),
    async settle() {
      const r = await result
      await warden.close()
      await store.close()
      return r
    },
  }
}
const agent = { id: 'agent-7', type: 'agent' } as const

const claims = (over: Record<string, unknown>) => ({
  v: 1,
  status: 'approved',
  by: 'alice',
  groups: ['dba-oncall'],
  decidedAt: Date.now(),
  ...over,
})

async function expectRefused(
  h: Awaited<ReturnType<typeof held>>,
  code: string,
  message: RegExp,
): Promise<void> {
  const r = await h.settle()
  expect(r).toMatchObject({ error: { code } })
  expect((r as { error: Error }).error.message).toMatch(message)
  expect(h.runs()).toBe(0)
  h.audit.expectRecord({
    command: h.request.command,
    approval: { id: h.request.id, status: 'mismatch' },
    outcome: { status: 'rejected', code },
  })
  h.audit.expectNoRecord({ outcome: { status: 'ok' } })
}

describe('redisApprovals: decisions nobody can forge', () => {
  it('HSET status approved by alice (no signed decision) does not release the command', async () => {
    const h = await held('DELETE FROM orders WHERE id = 1')
    await redis.hset(h.key, 'status', 'approved', 'by', 'alice')
    await h.poke()
    await expectRefused(h, 'ERR_WARDEN_APPROVAL_SIGNATURE', /without any decision/)
  })

  it('a decision with no signature, a broken signature, or one by an untrusted key', async () => {
    const cases: [string, (c: Record<string, unknown>) => string][] = [
      ['unsigned', (c) => JSON.stringify({ claims: JSON.stringify(c) })],
      ['untrusted key', (c) => seal(c, attacker)],
      [
        'altered after signing',
        (c) => {
          const blob = JSON.parse(seal(c, service)) as { claims: string }
          return JSON.stringify({ ...blob, claims: blob.claims.replace('alice', 'alicf') })
        },
      ],
    ]
    for (const [name, forge] of cases) {
      const h = await held(`DELETE FROM orders WHERE id = 2 -- ${name}`)
      const c = claims({ id: h.request.id, fingerprint: h.request.fingerprint })
      await redis.hset(h.key, 'status', 'approved', 'nd', '1', 'd1', forge(c))
      await h.poke()
      await expectRefused(
        h,
        'ERR_WARDEN_APPROVAL_SIGNATURE',
        /signed by a trusted|does not verify|not a decision/,
      )
    }
  })

  it('a validly signed decision replayed onto another request is refused', async () => {
    // A genuine signed decision, on a request nobody waits for (so it stays in the store to copy).
    const deciding = redisApprovals({
      redis: redis.duplicate(),
      prefix,
      signingKey: service.privateKey,
      trustedKeys: [service.publicKey],
    })
    const h = await held('UPDATE orders SET paid = true WHERE id = 3')
    const original = { ...h.request, id: `${h.request.id}-earlier` }
    await deciding.open(original)
    await deciding.decide(original.id, { status: 'approved', by: 'alice', ...dba })
    const sealed = await redis.hget(`${prefix}req:${original.id}`, 'd1')
    expect(sealed).toContain('"sig"')
    await redis.hset(h.key, 'status', 'approved', 'nd', '1', 'd1', sealed!)
    await h.poke()
    await expectRefused(h, 'ERR_WARDEN_APPROVAL_MISMATCH', /another request \(replayed\)/)
    await redis.del(`${prefix}req:${original.id}`)
    await deciding.close()
  })

  it('a decision signed by the service key for a reviewer the rule does not name, or by the requester', async () => {
    for (const [by, groups, message] of [
      ['mallory', ['web'], /mallory is not an approver of rule agent-writes/],
      ['AGENT-7', ['dba-oncall'], /requester approved their own request/],
    ] as const) {
      const h = await held(`DROP TABLE orders -- ${by}`)
      const c = claims({ id: h.request.id, fingerprint: h.request.fingerprint, by, groups })
      await redis.hset(h.key, 'status', 'approved', 'nd', '1', 'd1', seal(c, service))
      await h.poke()
      await expectRefused(h, 'ERR_WARDEN_APPROVAL_APPROVER', message)
    }
  })

  it('a signed decision on another fingerprint (the command altered in the store) is refused', async () => {
    const h = await held('DELETE FROM orders')
    // The attacker shows reviewers a harmless command with a matching fingerprint…
    const shown = { ...h.request, command: 'SELECT 1' }
    const fp = `sha256:${createHash('sha256').update('postgres:orders\nsql.query\nSELECT 1').digest('hex')}`
    await redis.hset(h.key, 'request', JSON.stringify({ ...shown, fingerprint: fp }), 'fingerprint', fp)
    // …and the approver service signs what it was shown: the waiting command computed its own.
    const deciding = redisApprovals({ redis: redis.duplicate(), prefix, signingKey: service.privateKey })
    await deciding.decide(h.request.id, { status: 'approved', by: 'alice', ...dba })
    await expectRefused(h, 'ERR_WARDEN_APPROVAL_MISMATCH', /different operation \(fingerprint\)/)
    await deciding.close()
  })

  it('a request altered in the store without its fingerprint cannot be decided', async () => {
    const h = await held('TRUNCATE orders')
    await redis.hset(h.key, 'request', JSON.stringify({ ...h.request, command: 'SELECT 1' }))
    const deciding = redisApprovals({ redis: redis.duplicate(), prefix, signingKey: service.privateKey })
    await expect(
      deciding.decide(h.request.id, { status: 'approved', by: 'alice', ...dba }),
    ).rejects.toMatchObject({
      refusal: 'fingerprint',
    })
    expect(h.runs()).toBe(0)
    await redis.hset(h.key, 'status', 'rejected')
    await deciding.close()
    await h.settle()
  })

  it('minApprovals: 2 needs two distinct approvers; one approval planted twice is refused', async () => {
    const deciding = redisApprovals({ redis: redis.duplicate(), prefix, signingKey: service.privateKey })
    const svc = { id: 'svc-batch', type: 'service' } as const
    const ok = await held('DELETE FROM orders WHERE id = 9', svc)
    await deciding.decide(ok.request.id, { status: 'approved', by: 'alice', ...dba })
    await expect(
      deciding.decide(ok.request.id, { status: 'approved', by: 'ALICE', ...dba }),
    ).rejects.toMatchObject({
      refusal: 'duplicate',
    })
    expect((await deciding.get(ok.request.id))?.status).toBe('pending')
    expect(ok.runs()).toBe(0)
    await deciding.decide(ok.request.id, { status: 'approved', by: 'bob', ...dba })
    expect(await ok.settle()).toEqual({ value: 'ran' })
    ok.audit.expectRecord({
      approval: { status: 'approved', approvals: ['alice', 'bob'] },
      outcome: { status: 'ok' },
    })

    const forged = await held('DELETE FROM orders WHERE id = 10', svc)
    await deciding.decide(forged.request.id, { status: 'approved', by: 'alice', ...dba })
    const d1 = await until(async () => (await redis.hget(forged.key, 'd1')) ?? undefined)
    await redis.hset(forged.key, 'status', 'approved', 'nd', '2', 'd2', d1)
    await forged.poke()
    await expectRefused(forged, 'ERR_WARDEN_APPROVAL_APPROVER', /alice decided this request more than once/)
    await deciding.close()
  })

  it('stores refuse to start without keys; unsigned decisions are an explicit development mode, audited', async () => {
    expect(() => redisApprovals({ redis: 'redis://127.0.0.1:6379', prefix })).toThrow(
      /decisions must be signed/,
    )
    const audit = memorySink()
    const store = redisApprovals({
      redis: redis.duplicate(),
      prefix,
      pollMs: 20,
      unsigned: 'development-only',
    })
    const warden = createWarden({ policy, audit, approvals: store })
    const session = await warden.session({ principal: agent })
    const result = session.execute(command('DELETE FROM orders WHERE id = 11'), () => 'ran')
    const record = await until(async () =>
      (await store.pending()).find((r) => r.request.command === 'DELETE FROM orders WHERE id = 11'),
    )
    await store.decide(record.request.id, { status: 'approved', by: 'alice', ...dba })
    await expect(result).resolves.toBe('ran')
    audit.expectRecord({ approval: { status: 'approved', by: 'alice', unsigned: 'development-only' } })
    await warden.close()
    await store.close()
  })
})
