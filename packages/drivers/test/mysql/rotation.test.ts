import { setTimeout as sleep } from 'node:timers/promises'
import { createConnection, createPool } from '@warden/drivers/mysql'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { type Fixture, openFixture } from './fixtures/mysql-fixture.js'

// Users live 3 s; the lease cache refreshes at 75 %; the broker drops a user (killing its
// sessions) when its lease expires.
const TTL = 3_000
let fx: Fixture

beforeAll(async () => {
  fx = await openFixture('rotate', { ttl: TTL })
})
afterAll(async () => {
  await fx?.close()
})

test('a pool keeps serving across lease rotations with no failed query, on real password logins', async () => {
  const session = await fx.session()
  const pool = createPool(session, {
    resource: 'shop',
    host: '127.0.0.1',
    database: fx.db,
    connectionLimit: 4,
  })
  const users = new Set<string>()
  const failures: unknown[] = []
  let queries = 0
  const until = Date.now() + TTL * 3
  const worker = async () => {
    while (Date.now() < until) {
      try {
        const [rows] = (await pool.query('SELECT CURRENT_USER() AS u, count(*) AS n FROM orders')) as [
          { u: string; n: number }[],
          unknown,
        ]
        users.add(String(rows[0]?.u).split('@')[0] as string)
        queries++
      } catch (err) {
        failures.push(err)
      }
      await sleep(5)
    }
  }
  try {
    await Promise.all([worker(), worker(), worker(), worker()])
  } finally {
    await pool.end()
  }
  expect(failures).toEqual([])
  expect(queries).toBeGreaterThan(50)
  // At least three brokered users served queries, each a fresh MariaDB account.
  expect(users.size).toBeGreaterThanOrEqual(3)
  for (const u of users) expect(u.startsWith(fx.prefix)).toBe(true)
  // Users whose lease ended are gone from the server.
  await sleep(TTL + 500)
  const [rows] = await fx.admin.query('SELECT User FROM mysql.user WHERE User IN (?)', [[...users]])
  const remaining = (rows as { User: string }[]).map((r) => r.User)
  expect(remaining.length).toBeLessThan(users.size)
})

test('a dedicated connection ends with its lease', async () => {
  const session = await fx.session({ id: 'svc-dedicated' })
  const conn = await createConnection(session, { resource: 'shop', host: '127.0.0.1', database: fx.db })
  await expect(conn.query('SELECT 1 AS one')).resolves.toBeDefined()
  await sleep(TTL + 200)
  await expect(conn.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_WARDEN_LEASE_EXPIRED' })
  conn.destroy()
})
