import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { createWarden, httpBroker, revealSecret, Secret } from '@warden/core'
import { memorySink, testIdentity } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const CANARY = `pw-canary-${Math.random().toString(36).slice(2)}`
interface Seen {
  method: string
  url: string
  auth: string | undefined
  client: string | undefined
  body: unknown
}
const seen: Seen[] = []
let mode: 'ok' | 'error' | 'malformed' | 'expired' = 'ok'
let counter = 0

async function handler(req: IncomingMessage, res: ServerResponse) {
  let raw = ''
  for await (const chunk of req) raw += chunk
  seen.push({
    method: req.method!,
    url: req.url!,
    auth: req.headers.authorization,
    client: req.headers['x-client-key'] as string,
    body: raw ? JSON.parse(raw) : undefined,
  })
  const send = (status: number, body?: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(body === undefined ? '' : JSON.stringify(body))
  }
  if (mode === 'error') return send(503, { error: `vault is sealed; rejected password ${CANARY}` })
  if (mode === 'malformed')
    return send(200, {
      id: 'x',
      credential: { type: 'password', username: 'u' },
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    })
  const lease = (id: string) => ({
    id,
    renewable: true,
    expiresAt: new Date(Date.now() + (mode === 'expired' ? -1000 : 60_000)).toISOString(),
    credential: { type: 'password', username: 'app_rw', password: CANARY },
  })
  if (req.method === 'POST' && req.url === '/v1/leases') return send(201, lease(`lease-${++counter}`))
  const m = /^\/v1\/leases\/([^/]+)(\/renew)?$/.exec(req.url ?? '')
  if (m && req.method === 'POST' && m[2]) return send(200, lease(decodeURIComponent(m[1])))
  if (m && req.method === 'DELETE') return m[1] === 'gone' ? send(404, { error: 'unknown lease' }) : send(204)
  send(404, { error: 'no route' })
}

const server = createServer((req, res) => {
  handler(req, res).catch(() => res.destroy())
})
let url = ''
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

const policy = compilePolicy('defaults: { effect: allow }\nrules: []')
const db = { kind: 'postgres', name: 'orders', labels: { env: 'prod' } } as const

describe('httpBroker against a real HTTP server', () => {
  it('issues with the session token, renews and revokes with it; secrets become Secrets', async () => {
    mode = 'ok'
    seen.length = 0
    const idp = await testIdentity()
    const broker = httpBroker({ url, headers: { 'X-Client-Key': new Secret('client-123') } })
    const warden = createWarden({ policy, audit: memorySink(), broker, identity: idp.identity })
    const token = await idp.token({ sub: 'ci', groups: ['deploy'], type: 'workload' })
    const session = await warden.session({ token })
    const lease = await session.lease(db, 'rw')
    expect(lease).toMatchObject({
      id: expect.stringMatching(/^lease-/),
      renewable: true,
      credential: { type: 'password', username: 'app_rw' },
    })
    const password = (lease.credential as { password: Secret }).password
    expect(password).toBeInstanceOf(Secret)
    expect(revealSecret(password)).toBe(CANARY)
    expect(inspect(lease, { depth: 10 })).not.toContain(CANARY)
    expect(JSON.stringify(lease)).not.toContain(CANARY)
    expect(seen[0]).toEqual({
      method: 'POST',
      url: '/v1/leases',
      auth: `Bearer ${token}`,
      client: 'client-123',
      body: {
        resource: { kind: 'postgres', name: 'orders', labels: { env: 'prod' } },
        principal: { id: 'ci', type: 'workload', groups: ['deploy'], issuer: idp.issuer },
        scope: 'rw',
      },
    })
    const renewed = await broker.renew!(lease)
    expect(seen[1]).toMatchObject({
      method: 'POST',
      url: `/v1/leases/${lease.id}/renew`,
      auth: `Bearer ${token}`,
    })
    expect(renewed.id).toBe(lease.id)
    await warden.close()
    expect(seen.at(-1)).toMatchObject({
      method: 'DELETE',
      url: `/v1/leases/${lease.id}`,
      auth: `Bearer ${token}`,
    })
  })

  it('revoking an unknown lease is fine (idempotent)', async () => {
    mode = 'ok'
    const broker = httpBroker({ url })
    await expect(
      broker.revoke({
        id: 'gone',
        credential: { type: 'token', token: new Secret('t') },
        expiresAt: new Date(),
        renewable: false,
      }),
    ).resolves.toBeUndefined()
  })

  it('maps broker errors, malformed and expired leases to typed errors', async () => {
    const idp = await testIdentity()
    const broker = httpBroker({ url })
    const warden = createWarden({
      policy,
      audit: memorySink(),
      broker,
      identity: idp.identity,
      leases: { retries: 1, backoffMs: 1 },
    })
    const session = await warden.session({ principal: { id: 'p', type: 'service' } })
    mode = 'error'
    const err = await session.lease(db).catch((e) => e)
    expect(err).toMatchObject({
      code: 'ERR_WARDEN_BROKER',
      message: expect.stringMatching(/answered 503\b/),
    })
    // The broker's own error text (here quoting a password) is never passed on, nor kept as a cause.
    expect(`${err.message}\n${err.stack}\n${inspect(err, { depth: 10 })}`).not.toContain(CANARY)
    expect(err.message).not.toContain('vault is sealed')
    expect(err.cause).toBeUndefined()
    mode = 'malformed'
    await expect(session.lease(db)).rejects.toMatchObject({
      code: 'ERR_WARDEN_BROKER',
      message: expect.stringMatching(/credential.password/),
    })
    mode = 'expired'
    await expect(session.lease(db)).rejects.toMatchObject({ code: 'ERR_WARDEN_LEASE_EXPIRED' })
    mode = 'ok'
    await warden.close()
  })

  it('an unreachable broker is ERR_WARDEN_BROKER', async () => {
    const broker = httpBroker({ url: 'http://127.0.0.1:1/v1', timeoutMs: 2000 })
    const principal = { id: 'p', type: 'service' as const, groups: [], claims: {}, issuer: '' }
    await expect(broker.issue({ resource: db, principal, scope: '' })).rejects.toMatchObject({
      code: 'ERR_WARDEN_BROKER',
    })
    expect(() => httpBroker({ url: 'not a url' })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }),
    )
  })
})
