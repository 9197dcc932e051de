import { createWarden, jwtIdentity } from '@warden/core'
import { memorySink, testIdentity } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const policy = compilePolicy(`
rules:
  - name: deployers
    when: '"deployers" in principal.groups && principal.type == "workload"'
    effect: allow
`)
const cmd = {
  resource: { kind: 'tool', name: 'deploy' },
  action: 'tool.call',
  text: 'deploy',
  tool: { name: 'deploy', args: {} },
} as const

describe('warden.session({token})', () => {
  it('verifies a token and maps sub, groups, type, issuer and claims', async () => {
    const idp = await testIdentity()
    const audit = memorySink()
    const warden = createWarden({ policy, audit, identity: idp.identity })
    const session = await warden.session({
      token: await idp.token({
        sub: 'ci-job',
        groups: ['deployers'],
        type: 'workload',
        claims: { repo: 'acme/api' },
      }),
    })
    expect(session.principal).toMatchObject({
      id: 'ci-job',
      type: 'workload',
      groups: ['deployers'],
      issuer: idp.issuer,
      claims: { repo: 'acme/api', aud: 'warden' },
    })
    expect(Object.isFrozen(session.principal)).toBe(true)
    await session.execute(cmd, () => 1)
    audit.expectRecord({
      type: 'session.open',
      principal: { id: 'ci-job', type: 'workload' },
      request: { principal: { issuer: idp.issuer } },
    })
    await warden.close()
  })

  it.each([
    ['expired', { sub: 'x', expiresIn: -120 }, /expired/],
    ['not yet valid', { sub: 'x', notBefore: 300 }, /nbf/],
    ['wrong audience', { sub: 'x', audience: 'someone-else' }, /aud/],
    ['wrong issuer', { sub: 'x', issuer: 'https://evil.test' }, /iss/],
    ['forged signature', { sub: 'x', forged: true }, /no key|signature/],
    ['bad principal type', { sub: 'x', claims: { principal_type: 'robot' } }, /principal_type/],
  ])('refuses a token that is %s, with ERR_WARDEN_TOKEN_INVALID, audited', async (_name, claims, message) => {
    const idp = await testIdentity()
    const audit = memorySink()
    const warden = createWarden({ policy, audit, identity: idp.identity })
    const token = await idp.token(claims)
    const err = await warden.session({ token }).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_TOKEN_INVALID', message: expect.stringMatching(message) })
    expect(err.message).not.toContain(token)
    const rec = audit.expectRecord({
      type: 'session.refused',
      outcome: { status: 'denied', code: 'ERR_WARDEN_TOKEN_INVALID' },
    })
    expect(JSON.stringify(rec)).not.toContain(token)
    expect(audit.filter({ type: 'session.open' })).toHaveLength(0)
    await warden.close()
  })

  it('tolerates small clock skew on exp', async () => {
    const idp = await testIdentity()
    const warden = createWarden({ policy, audit: memorySink(), identity: idp.identity })
    // expired 2 s ago; testIdentity allows 5 s of skew
    await expect(
      warden.session({ token: await idp.token({ sub: 'x', expiresIn: -2 }) }),
    ).resolves.toBeDefined()
    await warden.close()
  })

  it('garbage tokens and a missing identity are refused', async () => {
    const idp = await testIdentity()
    const warden = createWarden({ policy, audit: memorySink(), identity: idp.identity })
    await expect(warden.session({ token: 'not.a.jwt' })).rejects.toMatchObject({
      code: 'ERR_WARDEN_TOKEN_INVALID',
    })
    await expect(warden.session({ token: '' })).rejects.toMatchObject({ code: 'ERR_WARDEN_TOKEN_INVALID' })
    const bare = createWarden({ policy, audit: memorySink() })
    await expect(bare.session({ token: await idp.token({ sub: 'x' }) })).rejects.toMatchObject({
      code: 'ERR_WARDEN_CONFIG',
    })
    await warden.close()
    await bare.close()
  })

  it('JWKS over HTTP: cached across tokens, refetched on key rotation, old keys dropped', async () => {
    const idp = await testIdentity()
    const server = await idp.serve()
    try {
      const identity = jwtIdentity({
        jwksUrl: server.url,
        issuer: idp.issuer,
        audience: idp.audience,
        groupsClaim: 'groups',
        jwksCooldownMs: 1000,
      })
      const warden = createWarden({ policy, audit: memorySink(), identity })
      await warden.session({ token: await idp.token({ sub: 'a' }) })
      await warden.session({ token: await idp.token({ sub: 'b' }) })
      expect(server.fetches()).toBe(1)
      const before = await idp.token({ sub: 'old-key' })
      await idp.rotate({ drop: true })
      // jose refetches when a kid is unknown, after its 1 s cooldown
      await new Promise((r) => setTimeout(r, 1100))
      const s = await warden.session({ token: await idp.token({ sub: 'new-key' }) })
      expect(s.principal.id).toBe('new-key')
      expect(server.fetches()).toBe(2)
      await new Promise((r) => setTimeout(r, 1100))
      await expect(warden.session({ token: before })).rejects.toMatchObject({
        code: 'ERR_WARDEN_TOKEN_INVALID',
      })
      await warden.close()
    } finally {
      await server.close()
    }
  })

  it('custom groups and type claims, string groups', async () => {
    const idp = await testIdentity()
    const identity = jwtIdentity({
      jwks: idp.jwks,
      issuer: idp.issuer,
      audience: idp.audience,
      groupsClaim: 'roles',
      typeClaim: 'kind',
      defaultType: 'agent',
    })
    const p = await identity.verify(await idp.token({ sub: 'bot', claims: { roles: 'a b,c' } }))
    expect(p).toMatchObject({ id: 'bot', type: 'agent', groups: ['a', 'b', 'c'] })
    const q = await identity.verify(
      await idp.token({ sub: 'svc', claims: { roles: ['x'], kind: 'service' } }),
    )
    expect(q).toMatchObject({ type: 'service', groups: ['x'] })
    await expect(
      identity.verify(await idp.token({ sub: 'bad', claims: { roles: [1] } })),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_TOKEN_INVALID' })
  })

  it('jwtIdentity validates its options', () => {
    expect(() => jwtIdentity({ issuer: 'i', audience: 'a' })).toThrow(/exactly one/)
    expect(() => jwtIdentity({ issuer: '', audience: 'a', jwks: { keys: [] } })).toThrow(/issuer/)
    expect(() => jwtIdentity({ issuer: 'i', audience: [], jwks: { keys: [] } })).toThrow(/audience/)
  })
})
