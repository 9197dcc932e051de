// Malformed contents planted in the store (non-JSON, JSON of the wrong shape, a wrong key type) are
// skipped by readers and refused by decide(): one bad entry never hides the good ones from an
// inbox, and never reaches a reviewer as a decidable request. Real Redis.
import { redisApprovals } from '@warden/core'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { approvalRequest, dba, signed } from './fixtures.js'

const prefix = `warden-test:malformed:${process.pid}:${Date.now()}:`
const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
})

describe('redisApprovals: malformed entries in the store', () => {
  it('are skipped by pending() and get(), and refused by decide(), while a genuine request stays listed', async () => {
    const store = redisApprovals({ redis: redis.duplicate(), prefix, ...signed })
    const good = approvalRequest()
    await store.open(good)
    const later = String(Date.now() + 60_000)
    const planted: [string, string][] = [
      ['not-json', '{"id": nope'],
      ['wrong-shape', '"just a string"'],
      ['null', 'null'],
      ['no-principal', JSON.stringify({ id: 'no-principal', fingerprint: 'x', expiresAt: later })],
    ]
    for (const [id, request] of planted) {
      await redis.hset(`${prefix}req:${id}`, 'request', request, 'status', 'pending', 'expiresAt', later)
      await redis.zadd(`${prefix}pending`, later, id)
    }
    const listed = await store.pending()
    expect(listed.map((r) => r.id)).toEqual([good.id])
    for (const [id] of planted) {
      expect(await store.get(id)).toBeUndefined()
      await expect(store.decide(id, { status: 'approved', by: 'alice', ...dba })).rejects.toMatchObject({
        code: 'ERR_WARDEN_APPROVAL_DECISION',
      })
    }
    await store.withdraw(good.id)
    await store.close()
  })
})
