import { inspect } from 'node:util'
import { type Broker, type Command, createWarden, type Lease, Secret, staticBroker } from '@warden/core'
import { manualClock, memorySink, stubBroker } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it, vi } from 'vitest'

const policy = compilePolicy('defaults: { effect: allow }\nrules: []')
const db = { kind: 'postgres', name: 'orders' } as const
const cmd: Command = { resource: db, action: 'sql.query', text: 'SELECT 1' }
const svc = { id: 'svc', type: 'service' } as const

describe('lease cache', () => {
  it('single-flights concurrent requests for the same (resource, principal, scope)', async () => {
    const broker = stubBroker({ delayMs: 20 })
    const warden = createWarden({ policy, audit: memorySink(), broker })
    const a = await warden.session({ principal: svc })
    const b = await warden.session({ principal: svc })
    const leases = await Promise.all([...Array(5)].flatMap(() => [a.lease(db), b.lease(db)]))
    expect(new Set(leases.map((l) => l.id)).size).toBe(1)
    expect(broker.issued).toBe(1)
    // other scope, other principal, other resource: separate leases
    await a.lease(db, 'write')
    const c = await warden.session({ principal: { id: 'svc-2', type: 'service' } })
    await c.lease(db)
    await a.lease({ kind: 'postgres', name: 'other' })
    expect(broker.issued).toBe(4)
    expect(broker.requests.map((r) => [r.principal.id, r.resource.name, r.scope])).toEqual([
      ['svc', 'orders', ''],
      ['svc', 'orders', 'write'],
      ['svc-2', 'orders', ''],
      ['svc', 'other', ''],
    ])
    await warden.close()
  })

  it('refreshes ahead of expiry in the background, keeps serving the valid lease meanwhile', async () => {
    const clock = manualClock()
    const broker = stubBroker({ ttlMs: 2000, clock })
    const warden = createWarden({
      policy,
      audit: memorySink(),
      broker,
      clock,
      leases: { refreshAt: 0.1, minValidityMs: 100 },
    })
    const s = await warden.session({ principal: svc })
    const first = await s.lease(db)
    clock.advance(250) // past 10% of the lifetime
    broker.delay(50)
    const during = await s.lease(db) // returns at once with the still-valid lease, starts a refresh
    expect(during.id).toBe(first.id)
    await vi.waitFor(() => expect(broker.issued).toBe(2))
    await vi.waitFor(async () => expect((await s.lease(db)).id).not.toBe(first.id))
    await s.close()
    // both the current and the superseded lease are revoked
    expect([...broker.revokedIds].sort()).toEqual([first.id, broker.leases[1].id].sort())
    await warden.close()
  })

  it('renews renewable leases instead of issuing new ones', async () => {
    const clock = manualClock()
    const broker = stubBroker({ ttlMs: 1500, renewable: true, clock })
    const warden = createWarden({
      policy,
      audit: memorySink(),
      broker,
      clock,
      leases: { refreshAt: 0.1, minValidityMs: 100 },
    })
    const s = await warden.session({ principal: svc })
    const first = await s.lease(db)
    clock.advance(200)
    await s.lease(db)
    // The broker has renewed once the cache hands out the renewed lease (not when the broker
    // counted the call: the cache stores the answer a few ticks later).
    const renewed = await vi.waitFor(async () => {
      const lease = await s.lease(db)
      expect(lease.expiresAt.getTime()).toBeGreaterThan(first.expiresAt.getTime())
      return lease
    })
    expect(broker.renewed).toBe(1)
    expect(renewed.id).toBe(first.id)
    expect(broker.issued).toBe(1)
    await warden.close()
  })

  it('retries a failing broker with backoff, then fails with ERR_WARDEN_BROKER', async () => {
    const broker = stubBroker()
    const warden = createWarden({ policy, audit: memorySink(), broker, leases: { retries: 2, backoffMs: 5 } })
    const s = await warden.session({ principal: svc })
    broker.fail(2)
    await expect(s.lease(db)).resolves.toBeDefined()
    expect(broker.requests).toHaveLength(3)
    const s2 = await warden.session({ principal: { id: 'other', type: 'service' } })
    broker.fail(3, new Error('vault sealed'))
    await expect(s2.lease(db)).rejects.toMatchObject({
      code: 'ERR_WARDEN_BROKER',
      message: expect.stringMatching(/failed 3 times \(Error\)$/),
    })
    await warden.close()
  })

  it('a broker that does not answer in time fails the attempt; a lease it hands over late is revoked', async () => {
    const broker = stubBroker()
    const warden = createWarden({
      policy,
      audit: memorySink(),
      broker,
      leases: { retries: 1, backoffMs: 5, timeoutMs: 100 },
    })
    const s = await warden.session({ principal: svc })
    broker.delay(400)
    const started = Date.now()
    await expect(s.lease(db)).rejects.toMatchObject({
      code: 'ERR_WARDEN_BROKER',
      message: expect.stringContaining('did not answer within 100 ms'),
    })
    expect(Date.now() - started).toBeLessThan(5_000) // refused, not held until the broker answers
    // Both attempts' leases arrive later: neither is ever used, both are revoked.
    await vi.waitFor(() => expect(broker.revoked).toBe(2), { timeout: 5_000, interval: 50 })
    broker.delay(0)
    await expect(s.lease(db)).resolves.toBeDefined()
    await warden.close()
    expect(() => createWarden({ policy, audit: memorySink(), broker, leases: { timeoutMs: 0 } })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }),
    )
  })

  it('never hands out an expired or nearly expired lease: the command is refused instead', async () => {
    const clock = manualClock()
    const broker = stubBroker({ ttlMs: 600, clock })
    const audit = memorySink()
    const warden = createWarden({ policy, audit, broker, clock, leases: { minValidityMs: 300, retries: 0 } })
    const s = await warden.session({ principal: svc })
    const first = await s.execute(cmd, (ctx) => ctx.lease, { lease: true })
    broker.fail()
    clock.advance(350) // less than 300 ms left now
    let ran = false
    await expect(
      s.execute(
        cmd,
        () => {
          ran = true
        },
        { lease: true },
      ),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_BROKER' })
    expect(ran).toBe(false)
    audit.expectRecord({ outcome: { status: 'denied', code: 'ERR_WARDEN_BROKER' } })
    broker.recover()
    const next = await s.execute(cmd, (ctx) => ctx.lease, { lease: true })
    expect(next?.id).not.toBe(first?.id)
    expect(next!.expiresAt.getTime()).toBeGreaterThan(clock.now() + 300)
    await warden.close()
  })

  it('a broker that returns an already expired lease is refused with ERR_WARDEN_LEASE_EXPIRED', async () => {
    const stale: Broker = {
      issue: async () => ({
        id: 'old',
        credential: { type: 'token', token: new Secret('t') },
        expiresAt: new Date(Date.now() - 1000),
        renewable: false,
      }),
      revoke: async () => {},
    }
    const warden = createWarden({
      policy,
      audit: memorySink(),
      broker: stale,
      leases: { retries: 1, backoffMs: 1 },
    })
    const s = await warden.session({ principal: svc })
    await expect(s.lease(db)).rejects.toMatchObject({ code: 'ERR_WARDEN_LEASE_EXPIRED' })
    await expect(s.execute(cmd, () => 1, { lease: true })).rejects.toMatchObject({
      code: 'ERR_WARDEN_LEASE_EXPIRED',
    })
    await warden.close()
  })

  it('a malformed lease is a broker error', async () => {
    const broken = { issue: async () => ({ id: 1 }) as unknown as Lease, revoke: async () => {} }
    const warden = createWarden({ policy, audit: memorySink(), broker: broken, leases: { retries: 0 } })
    const s = await warden.session({ principal: svc })
    await expect(s.lease(db)).rejects.toMatchObject({
      code: 'ERR_WARDEN_BROKER',
      message: expect.stringMatching(/malformed/),
    })
    await warden.close()
  })

  it("a broker's own error text never reaches the error (it may quote a secret); no cause is kept", async () => {
    const canary = `canary-${Math.random().toString(36).slice(2)}`
    const rejecting = (error: unknown): Broker => ({
      issue: async () => {
        throw error
      },
      revoke: async () => {},
    })
    const leaky = Object.assign(new Error(`password ${canary} rejected`), { code: 'EVAULT_SEALED' })
    for (const [error, reason] of [
      [leaky, '(Error EVAULT_SEALED)'],
      [`raw ${canary}`, '(threw a string)'],
      [new TypeError(canary), '(TypeError)'],
    ] as const) {
      const warden = createWarden({
        policy,
        audit: memorySink(),
        broker: rejecting(error),
        leases: { retries: 0 },
      })
      const s = await warden.session({ principal: svc })
      const err = await s.lease(db).catch((e: unknown) => e as Error)
      expect(err).toMatchObject({ code: 'ERR_WARDEN_BROKER' })
      expect(err.message).toContain(reason)
      expect(err.cause).toBeUndefined()
      expect(`${err.message}\n${err.stack}\n${inspect(err, { depth: 10 })}`).not.toContain(canary)
      await warden.close()
    }
  })

  it.each([
    [
      'a plain-string password',
      { type: 'password', username: 'u', password: 'CANARY' },
      /credential\.password must be a Secret/,
    ],
    ['a plain-string token', { type: 'token', token: 'CANARY' }, /credential\.token must be a Secret/],
    [
      'a plain-string private key',
      { type: 'ssh', username: 'u', privateKey: 'CANARY' },
      /credential\.privateKey must be a Secret/,
    ],
    [
      'a plain-string header',
      { type: 'headers', headers: { authorization: 'CANARY' } },
      /credential\.headers value must be a Secret/,
    ],
    [
      'a missing username',
      { type: 'password', password: new Secret('CANARY') },
      /credential\.username must be a string/,
    ],
    ['an unknown credential type', { type: 'magic', value: 'CANARY' }, /credential\.type must be/],
    ['no credential', null, /credential must be an object/],
  ])(
    'a lease with %s is refused with ERR_WARDEN_BROKER naming the field, not the value',
    async (_, credential, message) => {
      const canary = `canary-${Math.random().toString(36).slice(2)}`
      const withCanary = JSON.parse(JSON.stringify(credential).replaceAll('CANARY', canary))
      if (withCanary?.password === '[secret]') withCanary.password = new Secret(canary)
      const broker: Broker = {
        issue: async () => ({
          id: 'l1',
          credential: withCanary,
          expiresAt: new Date(Date.now() + 60_000),
          renewable: false,
        }),
        revoke: async () => {},
      }
      const warden = createWarden({ policy, audit: memorySink(), broker, leases: { retries: 0 } })
      const s = await warden.session({ principal: svc })
      let ran = false
      const err = await s
        .execute(
          cmd,
          () => {
            ran = true
          },
          { lease: true },
        )
        .catch((e: unknown) => e as Error)
      expect(ran).toBe(false)
      expect(err).toMatchObject({ code: 'ERR_WARDEN_BROKER', message: expect.stringMatching(message) })
      expect(`${err.message}\n${err.stack}\n${inspect(err, { depth: 10 })}`).not.toContain(canary)
      await warden.close()
    },
  )

  it.each([
    ['an invalid expiresAt', { expiresAt: new Date(Number.NaN) }, /expiresAt must be a valid Date/],
    [
      'an ISO string expiresAt',
      { expiresAt: new Date(Date.now() + 60_000).toISOString() },
      /expiresAt must be a valid Date/,
    ],
    ['a numeric id', { id: 7 }, /id must be a non-empty string/],
  ])('a lease with %s is refused', async (_, patch, message) => {
    const broker: Broker = {
      issue: async () =>
        ({
          id: 'l1',
          credential: { type: 'token', token: new Secret('t') },
          expiresAt: new Date(Date.now() + 60_000),
          renewable: false,
          ...patch,
        }) as unknown as Lease,
      revoke: async () => {},
    }
    const warden = createWarden({ policy, audit: memorySink(), broker, leases: { retries: 0 } })
    const s = await warden.session({ principal: svc })
    await expect(s.lease(db)).rejects.toMatchObject({
      code: 'ERR_WARDEN_BROKER',
      message: expect.stringMatching(message),
    })
    await warden.close()
  })

  it('revokes a shared lease when its last session closes, and everything on warden.close()', async () => {
    const broker = stubBroker()
    const warden = createWarden({ policy, audit: memorySink(), broker })
    const a = await warden.session({ principal: svc })
    const b = await warden.session({ principal: svc })
    const lease = await a.lease(db)
    await b.lease(db)
    await a.close()
    expect(broker.revoked).toBe(0)
    await b.close()
    expect(broker.revokedIds).toEqual([lease.id])
    const c = await warden.session({ principal: svc })
    const other = await c.lease({ kind: 'ssh', name: 'bastion' })
    await warden.close()
    expect(broker.revokedIds).toEqual([lease.id, other.id])
    expect(c.closed).toBe(true)
  })

  it('a Warden without a broker refuses lease requests', async () => {
    const warden = createWarden({ policy, audit: memorySink() })
    const s = await warden.session({ principal: svc })
    await expect(s.lease(db)).rejects.toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
    await expect(s.execute(cmd, () => 1, { lease: true })).rejects.toMatchObject({
      code: 'ERR_WARDEN_CONFIG',
    })
    await warden.close()
  })
})

describe('staticBroker', () => {
  it('issues configured credentials, from values or the environment, with kind:* fallback', async () => {
    const broker = staticBroker({
      credentials: {
        'postgres:orders': { type: 'password', username: 'app', password: { env: 'ORDERS_PW' } },
        'http:*': { type: 'headers', headers: { Authorization: 'Bearer x' } },
      },
      env: { ORDERS_PW: 'from-env' },
    })
    const principal = { id: 'p', type: 'service' as const, groups: [], claims: {}, issuer: '' }
    const lease = await broker.issue({ resource: { ...db, labels: {} }, principal, scope: '' })
    expect(lease.credential).toMatchObject({ type: 'password', username: 'app' })
    expect(String((lease.credential as { password: Secret }).password)).toBe('[secret]')
    const { revealSecret } = await import('@warden/core')
    expect(revealSecret((lease.credential as { password: Secret }).password)).toBe('from-env')
    const h = await broker.issue({
      resource: { kind: 'http', name: 'api', labels: {} },
      principal,
      scope: '',
    })
    expect(Object.keys((h.credential as { headers: object }).headers)).toEqual(['authorization'])
    await expect(
      broker.issue({ resource: { kind: 'mysql', name: 'x', labels: {} }, principal, scope: '' }),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_BROKER' })
  })

  it('fails at construction when a variable is missing or a key is malformed', () => {
    expect(() =>
      staticBroker({
        credentials: { 'postgres:x': { type: 'token', token: { env: 'NOPE_NOT_SET' } } },
        env: {},
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_WARDEN_CONFIG',
        message: expect.stringContaining('$NOPE_NOT_SET'),
      }),
    )
    expect(() => staticBroker({ credentials: { orders: { type: 'token', token: 'x' } } })).toThrow(
      /kind:name/,
    )
    expect(() => staticBroker({ credentials: { 'postgres:x': { type: 'kerberos' } as never } })).toThrow(
      /type/,
    )
  })
})

describe('staticBroker and the environment', () => {
  it('removes the secret variables it read from process.env (an unguarded client cannot use them), unless keepEnv', async () => {
    process.env.WARDEN_TEST_PW = 'canary-env-password'
    process.env.WARDEN_TEST_USER = 'app'
    const broker = staticBroker({
      credentials: {
        'postgres:orders': {
          type: 'password',
          username: { env: 'WARDEN_TEST_USER' },
          password: { env: 'WARDEN_TEST_PW' },
        },
      },
    })
    expect(process.env.WARDEN_TEST_PW).toBeUndefined()
    // usernames are not secret: they stay
    expect(process.env.WARDEN_TEST_USER).toBe('app')
    const principal = { id: 'p', type: 'service' as const, groups: [], claims: {}, issuer: '' }
    const lease = await broker.issue({ resource: { ...db, labels: {} }, principal, scope: '' })
    const { revealSecret } = await import('@warden/core')
    expect(revealSecret((lease.credential as { password: Secret }).password)).toBe('canary-env-password')

    process.env.WARDEN_TEST_PW = 'kept'
    staticBroker({
      credentials: {
        'postgres:orders': { type: 'password', username: 'app', password: { env: 'WARDEN_TEST_PW' } },
      },
      keepEnv: true,
    })
    expect(process.env.WARDEN_TEST_PW).toBe('kept')
    delete process.env.WARDEN_TEST_PW
    delete process.env.WARDEN_TEST_USER
  })

  it('leaves the environment alone when construction fails', () => {
    process.env.WARDEN_TEST_PW2 = 'still-here'
    expect(() =>
      staticBroker({
        credentials: {
          'postgres:a': { type: 'password', username: 'app', password: { env: 'WARDEN_TEST_PW2' } },
          'postgres:b': { type: 'password', username: 'app', password: { env: 'WARDEN_NOT_SET_AT_ALL' } },
        },
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }))
    expect(process.env.WARDEN_TEST_PW2).toBe('still-here')
    delete process.env.WARDEN_TEST_PW2
  })
})

describe('clock', () => {
  it('createWarden and the lease cache refuse a clock without now()', () => {
    expect(() => createWarden({ policy, audit: memorySink(), clock: {} as never })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_CONFIG', message: expect.stringContaining('"clock"') }),
    )
    expect(() => manualClock().advance(-1)).toThrow(/ms must be >= 0/)
  })
})
