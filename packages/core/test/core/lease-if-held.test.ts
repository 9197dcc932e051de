// session.leaseIfHeld(): the held lease without a promise, exactly when lease() would resolve to
// it at once; undefined whenever lease() would have to go to the broker (then the driver calls it).
import { createWarden } from '@warden/core'
import { manualClock, memorySink, stubBroker } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const policy = compilePolicy('defaults: { effect: allow }\nrules: []')
const db = { kind: 'postgres', name: 'orders' } as const

describe('session.leaseIfHeld', () => {
  it('is the lease lease() holds, per principal and scope, and nothing before, near expiry or after close', async () => {
    const clock = manualClock()
    const broker = stubBroker({ ttlMs: 60_000, clock })
    const warden = createWarden({ policy, audit: memorySink(), broker, clock })
    const a = await warden.session({ principal: { id: 'svc', type: 'service' } })
    const b = await warden.session({ principal: { id: 'svc', type: 'service', groups: ['other'] } })
    expect(a.leaseIfHeld?.(db)).toBeUndefined()
    const lease = await a.lease(db)
    expect(a.leaseIfHeld?.(db)).toBe(lease)
    // another scope or another principal (same id, other groups) never gets it
    expect(a.leaseIfHeld?.(db, 'write')).toBeUndefined()
    expect(b.leaseIfHeld?.(db)).toBeUndefined()
    // too close to its expiry: lease() renews, so there is nothing to hand out synchronously
    clock.advance(59_999)
    expect(a.leaseIfHeld?.(db)).toBeUndefined()
    const renewed = await a.lease(db)
    expect(renewed.id).not.toBe(lease.id)
    expect(a.leaseIfHeld?.(db)).toBe(renewed)
    await a.close()
    expect(a.leaseIfHeld?.(db)).toBeUndefined()
    await expect(a.lease(db)).rejects.toMatchObject({ code: 'ERR_WARDEN_SESSION_CLOSED' })
    await warden.close()
  })
})
