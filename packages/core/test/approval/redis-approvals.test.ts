import { randomUUID } from 'node:crypto'
import { ApprovalDecisionError, type ApprovalEvent, redisApprovals, WardenError } from '@warden/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { approvalRequest, dba, signed, until } from './fixtures.js'

// Two separate connections stand for two application instances sharing one Redis.
const prefix = `warden-test:${randomUUID()}:`
let connA: Redis
let connB: Redis

beforeAll(async () => {
  connA = new Redis({ host: '127.0.0.1', port: 6379 })
  connB = new Redis({ host: '127.0.0.1', port: 6379 })
  await Promise.all([connA.ping(), connB.ping()])
})

afterAll(async () => {
  const keys = await connA.keys(`${prefix}*`)
  if (keys.length > 0) await connA.del(...keys)
  connA.disconnect()
  connB.disconnect()
})

type Store = ReturnType<typeof redisApprovals>

/** Subscribes `inbox` and resolves once its subscription is live (a probe from `from` arrived). */
async function liveEvents(inbox: Store, from: Store): Promise<{ events: ApprovalEvent[]; off: () => void }> {
  const events: ApprovalEvent[] = []
  const off = inbox.subscribe((e) => events.push(e))
  await until(async () => {
    const probe = approvalRequest()
    await from.open(probe)
    await from.withdraw(probe.id)
    return events.some((e) => e.type === 'removed' && e.id === probe.id) ? true : undefined
  }, 50)
  return { events, off }
}

describe('redisApprovals', () => {
  it('a waiter in instance A is released by a decision made in instance B', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const req = approvalRequest()
    const outcome = a.request(req, new AbortController().signal)

    const seen = await until(async () => (await b.pending()).find((r) => r.id === req.id))
    expect(seen.status).toBe('pending')
    expect(seen.request.command).toBe(req.command)
    expect(seen.request.expiresAt).toEqual(req.expiresAt)
    expect(seen.request.principal.id).toBe('agent-7')

    const decided = await b.decide(req.id, { status: 'approved', by: 'alice', ...dba, reason: 'looks right' })
    expect(decided.status).toBe('approved')
    await expect(outcome).resolves.toEqual({
      status: 'approved',
      by: 'alice',
      reason: 'looks right',
      fingerprint: req.fingerprint,
      id: req.id,
      approvals: [{ by: 'alice', decidedAt: expect.any(Date), key: expect.stringMatching(/^ed25519:/) }],
    })
    // Used: the decision is gone from the store.
    expect(await b.get(req.id)).toBeUndefined()
    await a.close()
    await b.close()
  })

  it('a rejection is delivered as rejected, with the reviewer and reason', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const req = approvalRequest()
    const outcome = a.request(req, new AbortController().signal)
    await until(async () => b.get(req.id))
    await b.decide(req.id, { status: 'rejected', by: 'bob', ...dba, reason: 'not during the freeze' })
    await expect(outcome).resolves.toMatchObject({
      status: 'rejected',
      by: 'bob',
      reason: 'not during the freeze',
    })
    await a.close()
    await b.close()
  })

  it('refuses self-approval, unknown ids, a second decision, and a fingerprint the reviewer did not see', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const req = approvalRequest()
    const outcome = a.request(req, new AbortController().signal)
    await until(async () => b.get(req.id))

    const refusal = async (p: Promise<unknown>) => {
      const e = await p.then(
        () => undefined,
        (err: unknown) => err,
      )
      expect(e).toBeInstanceOf(ApprovalDecisionError)
      expect((e as ApprovalDecisionError).code).toBe('ERR_WARDEN_APPROVAL_DECISION')
      return (e as ApprovalDecisionError).refusal
    }
    expect(await refusal(b.decide(req.id, { status: 'approved', by: ' Agent-7 ' }))).toBe('self-approval')
    expect(await refusal(b.decide('no-such-id', { status: 'approved', by: 'alice', ...dba }))).toBe('unknown')
    expect(
      await refusal(
        b.decide(req.id, { status: 'approved', by: 'alice', ...dba, fingerprint: 'sha256:other' }),
      ),
    ).toBe('fingerprint')
    expect(await refusal(b.decide(req.id, { status: 'maybe' as 'approved', by: 'alice', ...dba }))).toBe(
      'invalid',
    )
    expect(await refusal(b.decide(req.id, { status: 'approved', by: '' }))).toBe('invalid')
    // Still pending after all the refusals:
    expect((await b.get(req.id))?.status).toBe('pending')

    await b.decide(req.id, { status: 'approved', by: 'alice', ...dba, fingerprint: req.fingerprint })
    await expect(outcome).resolves.toMatchObject({ status: 'approved', by: 'alice' })
    // A decided request nobody has taken yet: a second decision is refused as decided.
    const idle = approvalRequest()
    await a.open(idle)
    await b.decide(idle.id, { status: 'approved', by: 'alice', ...dba })
    expect(await refusal(b.decide(idle.id, { status: 'rejected', by: 'carol', ...dba }))).toBe('decided')
    await connB.del(`${prefix}req:${idle.id}`)
    await a.close()
    await b.close()
  })

  it('concurrent decisions from two instances: exactly one wins', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const req = approvalRequest()
    const outcome = a.request(req, new AbortController().signal)
    await until(async () => b.get(req.id))
    const results = await Promise.allSettled([
      a.decide(req.id, { status: 'approved', by: 'alice', ...dba }),
      b.decide(req.id, { status: 'rejected', by: 'bob', ...dba }),
      b.decide(req.id, { status: 'approved', by: 'carol', ...dba }),
    ])
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    const winner = (won[0] as PromiseFulfilledResult<{ status: string; by?: string }>).value
    const got = await outcome
    expect(got.status).toBe(winner.status)
    expect(got.by).toBe(winner.by)
    await a.close()
    await b.close()
  })

  it('a decision is single-use: a second waiter on the same id does not get it', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const req = approvalRequest()
    await a.open(req)
    await b.decide(req.id, { status: 'approved', by: 'alice', ...dba })
    const first = await a.wait(req, new AbortController().signal)
    expect(first.status).toBe('approved')
    // Replaying the same request id (another waiter, another instance) finds nothing to use.
    const second = await b.wait(req, new AbortController().signal)
    expect(second.status).toBe('expired')
    await a.close()
    await b.close()
  })

  it('the pending entry carries the approval expiry as its TTL', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const req = approvalRequest({ expiresAt: new Date(Date.now() + 60_000) })
    await a.open(req)
    const ttl = await connB.pttl(`${prefix}req:${req.id}`)
    // Expiry is enforced by expiresAt; the key lingers a grace period so the withdraw can announce it.
    expect(ttl).toBeGreaterThan(50_000)
    expect(ttl).toBeLessThanOrEqual(90_000)
    await a.withdraw(req.id)
    expect(await connB.exists(`${prefix}req:${req.id}`)).toBe(0)
    await a.close()
  })

  it('times out as expired when nobody decides, and removes the pending entry', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const { events, off } = await liveEvents(b, a)
    const req = approvalRequest({ expiresAt: new Date(Date.now() + 300) })
    const outcome = await a.request(req, new AbortController().signal)
    expect(outcome).toMatchObject({ status: 'expired', id: req.id, fingerprint: req.fingerprint })
    expect(await b.get(req.id)).toBeUndefined()
    expect((await b.pending()).some((r) => r.id === req.id)).toBe(false)
    await until(async () => (events.some((e) => e.type === 'removed' && e.id === req.id) ? true : undefined))
    expect(events.find((e) => e.type === 'pending' && e.record.id === req.id)).toBeDefined()
    // A late decision is refused.
    await expect(b.decide(req.id, { status: 'approved', by: 'alice', ...dba })).rejects.toMatchObject({
      refusal: 'unknown',
    })
    off()
    await a.close()
    await b.close()
  })

  it('announces the removal even when Redis already dropped the hash (the race behind a lost expiry event)', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const { events, off } = await liveEvents(b, a)
    const req = approvalRequest()
    await a.open(req)
    await connB.del(`${prefix}req:${req.id}`)
    await a.withdraw(req.id)
    await until(async () => (events.some((e) => e.type === 'removed' && e.id === req.id) ? true : undefined))
    expect(await connB.zscore(`${prefix}pending`, req.id)).toBeNull()
    off()
    await a.close()
    await b.close()
  })

  it('a pending request past its expiresAt is gone to readers and cannot be decided, before any cleanup', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const req = approvalRequest({ expiresAt: new Date(Date.now() + 150) })
    await a.open(req) // nobody waits, so nobody withdraws
    await new Promise((r) => setTimeout(r, 250))
    expect(await connB.exists(`${prefix}req:${req.id}`)).toBe(1)
    expect(await b.get(req.id)).toBeUndefined()
    expect((await b.pending()).some((r) => r.id === req.id)).toBe(false)
    await expect(b.decide(req.id, { status: 'approved', by: 'alice', ...dba })).rejects.toMatchObject({
      refusal: 'expired',
    })
    await a.close()
    await b.close()
  })

  it('an abort signal cancels the wait and withdraws the request from every inbox', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const events: ApprovalEvent[] = []
    b.subscribe((e) => events.push(e))
    const req = approvalRequest()
    const ac = new AbortController()
    const outcome = a.request(req, ac.signal)
    await until(async () => b.get(req.id))
    ac.abort()
    await expect(outcome).resolves.toMatchObject({ status: 'expired' })
    expect(await b.get(req.id)).toBeUndefined()
    await until(async () =>
      events.some((e) => e.type === 'removed' && e.id === req.id && e.status === 'expired')
        ? true
        : undefined,
    )
    await a.close()
    await b.close()
  })

  it('inbox subscribers in another instance see pending and decided events', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const b = redisApprovals({ redis: connB, prefix, ...signed })
    const events: ApprovalEvent[] = []
    b.subscribe((e) => events.push(e))
    await until(async () => {
      // the subscription is live once a probe event arrives
      const probe = approvalRequest()
      await a.open(probe)
      await a.withdraw(probe.id)
      return events.some((e) => e.type === 'removed' && e.id === probe.id) ? true : undefined
    }, 50)
    const req = approvalRequest()
    const outcome = a.request(req, new AbortController().signal)
    await until(async () =>
      events.find((e) => e.type === 'pending' && e.record.id === req.id) ? true : undefined,
    )
    const pendingEvent = events.find((e) => e.type === 'pending' && e.record.id === req.id)
    expect(pendingEvent?.type === 'pending' && pendingEvent.record.request.requestedAt instanceof Date).toBe(
      true,
    )
    await b.decide(req.id, { status: 'approved', by: 'alice', ...dba })
    await outcome
    await until(async () => (events.find((e) => e.type === 'decided' && e.id === req.id) ? true : undefined))
    expect(events.find((e) => e.type === 'decided' && e.id === req.id)).toMatchObject({
      status: 'approved',
      by: 'alice',
    })
    await a.close()
    await b.close()
  })

  it('fails closed with ERR_WARDEN_APPROVAL_STORE when Redis cannot be reached', async () => {
    // Port 1 on loopback: nothing listens, so the connection is refused.
    const down = redisApprovals({
      ...signed,
      redis: { host: '127.0.0.1', port: 1, retryStrategy: () => null },
      prefix,
      commandTimeoutMs: 1000,
    })
    const err = await down.request(approvalRequest(), new AbortController().signal).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WardenError)
    expect((err as WardenError).code).toBe('ERR_WARDEN_APPROVAL_STORE')
    expect((err as WardenError).message).toMatch(/Redis/)
    await expect(down.pending()).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_STORE' })
    await down.close()
  })

  it('fails closed when the connection drops while a request waits (after the outage tolerance)', async () => {
    const own = new Redis({
      host: '127.0.0.1',
      port: 6379,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    const a = redisApprovals({
      ...signed,
      redis: own,
      prefix,
      pollMs: 20,
      commandTimeoutMs: 500,
      outageToleranceMs: 300,
    })
    const req = approvalRequest()
    const outcome = a.request(req, new AbortController().signal).catch((e: unknown) => e)
    await until(async () => connB.exists(`${prefix}req:${req.id}`).then((n) => (n === 1 ? true : undefined)))
    own.disconnect()
    const dropped = Date.now()
    const err = await outcome
    expect(err).toMatchObject({ code: 'ERR_WARDEN_APPROVAL_STORE' })
    // Not at the first failed read, and not long after the tolerance either.
    expect(Date.now() - dropped).toBeGreaterThanOrEqual(250)
    expect(() => redisApprovals({ ...signed, redis: own, outageToleranceMs: -1 })).toThrow(
      /outageToleranceMs/,
    )
    await a.close()
    await connB.del(`${prefix}req:${req.id}`)
  })

  it('a closed store refuses new work; waiters end as expired', async () => {
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    const req = approvalRequest()
    const outcome = a.request(req, new AbortController().signal)
    await until(async () => connB.exists(`${prefix}req:${req.id}`).then((n) => (n === 1 ? true : undefined)))
    await a.close()
    await expect(outcome).resolves.toMatchObject({ status: 'expired' })
    await expect(a.pending()).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_STORE' })
    // The user's own connection is left open.
    expect(await connA.ping()).toBe('PONG')
  })

  it('validates options and requests eagerly', () => {
    expect(() => redisApprovals({ redis: 42 as never })).toThrow(TypeError)
    expect(() => redisApprovals({ redis: connA, pollMs: 0, ...signed })).toThrow(/pollMs/)
    // Decisions are signed unless the opt-out is spelled out.
    expect(() => redisApprovals({ redis: connA })).toThrow(/signed/)
    expect(() => redisApprovals({ redis: connA, unsigned: 'yes' as never })).toThrow(/development-only/)
    const a = redisApprovals({ redis: connA, prefix, ...signed })
    return expect(a.open({ ...approvalRequest(), expiresAt: 'soon' as never })).rejects.toThrow(/expiresAt/)
  })
})
