import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type ExpressExample, startExpressExample } from '../../examples/express-app/main.js'

let app: ExpressExample
beforeAll(async () => {
  app = await startExpressExample()
})
afterAll(async () => {
  await app?.stop()
})

async function call(
  token: string | undefined,
  method: string,
  path: string,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
  return { status: res.status, body: await res.json() }
}

describe('examples/express-app', () => {
  it('one pool, each request as its caller: concurrent requests keep their own masks', async () => {
    const calls = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? 'support' : 'privacy') as const)
    const results = await Promise.all(
      calls.map((who) => call(app.tokens[who], 'GET', '/customers').then((r) => ({ who, ...r }))),
    )
    for (const r of results) {
      expect(r.status).toBe(200)
      const emails = r.body.map((c: { email: string }) => c.email)
      if (r.who === 'privacy')
        expect(emails).toEqual(['ada.lovelace@analytical.example.net', 'grace.hopper@navy.example.org'])
      else expect(emails).toEqual(['***@analytical.example.net', '***@navy.example.org'])
    }
    const selects = app.records.filter(
      (r) => r.command === 'SELECT id, name, email, phone FROM customers ORDER BY id',
    )
    expect(selects.filter((r) => r.principal.id === 'pat@example.com')).toHaveLength(8)
    expect(
      selects.filter((r) => r.principal.id === 'sam@example.com' && (r.masked?.length ?? 0) > 0),
    ).toHaveLength(8)
    expect(
      selects.filter((r) => r.principal.id === 'pat@example.com' && r.masked !== undefined),
    ).toHaveLength(0)
  })

  it('writes follow the caller: a viewer may not cancel, support may; nobody deletes', async () => {
    const denied = await call(app.tokens.viewer, 'POST', '/orders/102/cancel')
    expect(denied).toEqual({
      status: 403,
      body: expect.objectContaining({ error: 'ERR_WARDEN_DENIED', rule: 'default' }),
    })
    expect((await call(app.tokens.viewer, 'GET', '/customers/2/orders')).body).toEqual([
      { id: 102, total: '75.00', status: 'paid' },
    ])
    expect(await call(app.tokens.support, 'POST', '/orders/102/cancel')).toEqual({
      status: 200,
      body: { cancelled: true },
    })
    expect((await call(app.tokens.viewer, 'GET', '/customers/2/orders')).body).toEqual([
      { id: 102, total: '75.00', status: 'cancelled' },
    ])
    const del = await call(app.tokens.privacy, 'DELETE', '/customers/2')
    expect(del).toEqual({
      status: 403,
      body: expect.objectContaining({
        rule: 'no-deletes',
        reason: 'records are never deleted from the web app',
      }),
    })
  })

  it('no token or a bad one is 401 and runs nothing; every request is its own audited session', async () => {
    const before = app.records.filter((r) => r.type === 'command').length
    expect((await call(undefined, 'GET', '/customers')).status).toBe(401)
    expect(await call(`${app.tokens.support.slice(0, -4)}AAAA`, 'GET', '/customers')).toEqual({
      status: 401,
      body: expect.objectContaining({ error: 'ERR_WARDEN_TOKEN_INVALID' }),
    })
    expect((await call(app.tokens.support, 'GET', '/nope')).status).toBe(404)
    expect(app.records.filter((r) => r.type === 'command').length).toBe(before)
    // Sessions close when their response is done ('close'): wait for the last ones.
    await vi.waitFor(() => {
      const opens = app.records.filter((r) => r.type === 'session.open').length
      const closes = app.records.filter((r) => r.type === 'session.close').length
      expect(opens).toBe(closes)
      expect(opens).toBeGreaterThanOrEqual(20)
    })
  })

  it('runs as documented from the command line', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=warden-source', '--import', 'tsx', 'examples/express-app/main.ts'],
      { cwd: new URL('../..', import.meta.url), timeout: 60_000 },
    )
    expect(stdout).toMatch(/support GET +\/customers +→ 200 .*\*\*\*@analytical\.example\.net/)
    expect(stdout).toMatch(/viewer +POST +\/orders\/101\/cancel +→ 403 .*ERR_WARDEN_DENIED/)
    expect(stdout).toMatch(/support DELETE \/customers\/2 +→ 403 .*no-deletes/)
  }, 90_000)
})
