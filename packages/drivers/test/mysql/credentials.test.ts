import { inspect } from 'node:util'
import { createWarden, type Lease, memorySink, revealSecret, Secret } from '@warden/core'
import { stubBroker } from '@warden/core/testing'
import { createConnection, createPool } from '@warden/drivers/mysql'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Fixture, openFixture, POLICY } from './fixtures/mysql-fixture.js'

let fx: Fixture
const passwords: string[] = []
const leases: Lease[] = []

beforeAll(async () => {
  fx = await openFixture('creds', {
    broker: (users) => ({
      async issue(request) {
        const lease = await users.issue(request)
        leases.push(lease)
        if (lease.credential.type === 'password') passwords.push(revealSecret(lease.credential.password))
        return lease
      },
      revoke: (lease) => users.revoke(lease),
    }),
  })
})
afterAll(async () => {
  await fx?.close()
})

const expectClean = (text: string) => {
  expect(passwords.length).toBeGreaterThan(0)
  for (const p of passwords) expect(text).not.toContain(p)
}

describe('the brokered password never leaks', () => {
  test('not in results, errors, util.inspect of any object, nor the audit trail', async () => {
    const session = await fx.session()
    const pool = createPool(session, {
      resource: 'shop',
      host: '127.0.0.1',
      database: fx.db,
      connectionLimit: 2,
    })
    const seen: unknown[] = []
    try {
      seen.push(await pool.query('SELECT id, ssn FROM customers'))
      seen.push(await pool.execute('SELECT CURRENT_USER() AS u'))
      seen.push(await pool.query('SELECT nosuch FROM orders').catch((e) => e))
      seen.push(await pool.query('DROP TABLE orders').catch((e) => e))
      const cmd = pool.pool.query('SELECT id FROM orders')
      const streamed: unknown[] = []
      for await (const row of cmd.stream()) streamed.push(row)
      seen.push(cmd, streamed)
      const conn = await pool.getConnection()
      seen.push(conn, await conn.query('SELECT 1'))
      conn.release()
      const dedicated = await createConnection(session, {
        resource: 'shop',
        host: '127.0.0.1',
        database: fx.db,
      })
      seen.push(dedicated, await dedicated.query('SELECT 2'))
      await dedicated.end()
      seen.push(pool, session)
      // The user really logged in with the brokered account (not root).
      const [[who]] = (await pool.query('SELECT CURRENT_USER() AS u')) as [{ u: string }[], unknown]
      expect(who?.u).toMatch(new RegExp(`^${fx.prefix}`))
    } finally {
      await pool.end()
    }
    for (const value of seen) {
      expectClean(inspect(value, { depth: 8, showHidden: true }))
      expectClean(String((value as Error)?.message ?? ''))
    }
    expectClean(JSON.stringify(fx.audit.records))
    expect(inspect(leases[0])).toContain('[secret]')
  })

  test('a failed login with a canary password does not leak it', async () => {
    const broker = stubBroker({ username: 'wd_nobody' })
    const audit = memorySink()
    const warden = createWarden({ policy: compilePolicy(POLICY), broker, audit })
    try {
      const session = await warden.session({ principal: { id: 'svc-canary', type: 'service' } })
      const err = await createConnection(session, { resource: 'shop', host: '127.0.0.1' }).catch((e) => e)
      expect(err.code).toBe('ER_ACCESS_DENIED_ERROR')
      const pool = createPool(session, { resource: 'shop', host: '127.0.0.1' })
      const poolErr = await pool.query('SELECT 1').catch((e) => e)
      expect(poolErr.code).toBe('ER_ACCESS_DENIED_ERROR')
      for (const text of [
        inspect(err, { depth: 8, showHidden: true }),
        inspect(poolErr, { depth: 8 }),
        inspect(pool, { depth: 8, showHidden: true }),
        JSON.stringify(audit.records),
      ]) {
        expect(text).not.toContain(broker.canary)
      }
      expect(audit.last()).toMatchObject({ outcome: { status: 'error', code: 'ER_ACCESS_DENIED_ERROR' } })
      await pool.end()
    } finally {
      await warden.close()
    }
  })

  test('a broker that hands out a non-password credential is refused before dialling', async () => {
    const broker = {
      issue: async () => ({
        id: 't1',
        credential: { type: 'token' as const, token: new Secret('tok-canary-99') },
        expiresAt: new Date(Date.now() + 60_000),
        renewable: false,
      }),
      revoke: async () => {},
    }
    const warden = createWarden({ policy: compilePolicy(POLICY), broker, audit: memorySink() })
    try {
      const session = await warden.session({ principal: { id: 'svc-token', type: 'service' } })
      const err = await createConnection(session, { resource: 'shop', host: '127.0.0.1' }).catch((e) => e)
      expect(err).toMatchObject({
        code: 'ERR_WARDEN_BROKER',
        message: expect.stringMatching(/password credential/),
      })
      const pool = createPool(session, { resource: 'shop', host: '127.0.0.1' })
      await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_WARDEN_BROKER' })
      await pool.end()
      expect(inspect(err)).not.toContain('tok-canary-99')
    } finally {
      await warden.close()
    }
  })
})
