import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { inspect } from 'node:util'
import { type Lease, revealSecret } from '@warden/core'
import { mysqlUserBroker } from '@warden/drivers/mysql'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADMIN } from './fixtures/mysql-fixture.js'

const id = randomBytes(3).toString('hex')
const db = `wd_ubroker_${id}`
const other = `wd_ubroker_other_${id}`
const prefix = `wub${id}_`
let admin: mysql.Connection
const request = {
  resource: { kind: 'mysql', name: 'shop', labels: {} },
  principal: { id: 'svc', type: 'service', groups: [], claims: {}, issuer: '' },
  scope: '',
} as const

beforeAll(async () => {
  admin = await mysql.createConnection(ADMIN)
  await admin.query(`CREATE DATABASE \`${db}\``)
  await admin.query(`CREATE DATABASE \`${other}\``)
  await admin.query(`CREATE TABLE \`${db}\`.t (a INT)`)
  await admin.query(`CREATE TABLE \`${other}\`.secret (a INT)`)
})
afterAll(async () => {
  await admin.query(`DROP DATABASE IF EXISTS \`${db}\``)
  await admin.query(`DROP DATABASE IF EXISTS \`${other}\``)
  const [users] = await admin.query('SELECT User, Host FROM mysql.user WHERE User LIKE ?', [
    `${prefix.replace(/_/g, '\\_')}%`,
  ])
  for (const u of users as { User: string; Host: string }[])
    await admin.query('DROP USER IF EXISTS ?@?', [u.User, u.Host])
  await admin.end()
})

const login = (lease: Lease) => {
  if (lease.credential.type !== 'password') throw new Error('expected a password credential')
  return mysql.createConnection({
    host: '127.0.0.1',
    user: lease.credential.username,
    password: revealSecret(lease.credential.password),
    database: db,
  })
}
const userExists = async (user: string) => {
  const [rows] = await admin.query('SELECT count(*) AS n FROM mysql.user WHERE User = ?', [user])
  return (rows as { n: number }[])[0]?.n === 1
}

describe('mysqlUserBroker', () => {
  test('issues a real account with exactly the configured grants; revoke drops it and kills its sessions', async () => {
    const broker = mysqlUserBroker({
      admin: ADMIN,
      grants: [`SELECT, INSERT ON \`${db}\`.*`],
      ttl: '1m',
      prefix,
    })
    try {
      const lease = await broker.issue(request)
      expect(lease.renewable).toBe(false)
      expect(lease.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50_000)
      expect(inspect(lease, { depth: 5 })).toContain('[secret]')
      expect(JSON.stringify(lease)).not.toContain(
        revealSecret((lease.credential as { password: never }).password),
      )
      const user = (lease.credential as { username: string }).username
      expect(user.startsWith(prefix)).toBe(true)
      const conn = await login(lease)
      await conn.query('INSERT INTO t VALUES (1)')
      await expect(conn.query('DELETE FROM t')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' })
      await expect(conn.query(`SELECT * FROM \`${other}\`.secret`)).rejects.toMatchObject({
        code: 'ER_TABLEACCESS_DENIED_ERROR',
      })
      // A wrong password is refused: the account really uses password authentication.
      await expect(
        mysql.createConnection({ host: '127.0.0.1', user, password: 'not-it' }),
      ).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' })
      expect(broker.active).toBe(1)
      await broker.revoke(lease)
      expect(broker.active).toBe(0)
      expect(await userExists(user)).toBe(false)
      await expect(conn.query('SELECT 1')).rejects.toBeTruthy() // its session was killed
      conn.destroy()
      // The account is gone: the server refuses the login (1045, or 1044 when it matched another account).
      await expect(login(lease)).rejects.toMatchObject({
        message: expect.stringMatching(/^Access denied for user/),
      })
    } finally {
      await broker.close()
    }
  })

  test("the server never sees the new account's password: its general log holds only the hash", async () => {
    const admin = await mysql.createConnection({ host: '127.0.0.1', user: 'root' })
    const [[before]] = (await admin.query(
      'SELECT @@GLOBAL.general_log AS on_, @@GLOBAL.log_output AS output',
    )) as unknown as [{ on_: number; output: string }[]]
    await admin.query("SET GLOBAL log_output = 'TABLE'")
    await admin.query('SET GLOBAL general_log = 1')
    const broker = mysqlUserBroker({ admin: ADMIN, grants: [`SELECT ON \`${db}\`.*`], ttl: '1m', prefix })
    try {
      const lease = await broker.issue(request)
      const password = revealSecret((lease.credential as { password: never }).password) as string
      const user = (lease.credential as { username: string }).username
      ;(await login(lease)).destroy() // the account works with the password
      const [logged] = (await admin.query(
        'SELECT CONVERT(argument USING utf8mb4) AS text FROM mysql.general_log WHERE CONVERT(argument USING utf8mb4) LIKE ?',
        [`%${user}%`],
      )) as unknown as [{ text: string }[]]
      expect(logged.some((r) => r.text.startsWith('CREATE USER'))).toBe(true)
      for (const r of logged) expect(r.text).not.toContain(password)
      expect(logged.find((r) => r.text.startsWith('CREATE USER'))?.text).toMatch(
        /IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}'/,
      )
      await broker.revoke(lease)
    } finally {
      await broker.close()
      await admin.query(`SET GLOBAL general_log = ${before?.on_ ? 1 : 0}`)
      await admin.query('SET GLOBAL log_output = ?', [before?.output ?? 'FILE'])
      await admin.query('TRUNCATE mysql.general_log').catch(() => undefined)
      await admin.end()
    }
  })

  test('drops the account when the lease expires', async () => {
    const broker = mysqlUserBroker({ admin: ADMIN, grants: [`SELECT ON \`${db}\`.*`], ttl: 1_000, prefix })
    try {
      const lease = await broker.issue(request)
      const user = (lease.credential as { username: string }).username
      const conn = await login(lease)
      expect(await userExists(user)).toBe(true)
      await sleep(1_500)
      expect(await userExists(user)).toBe(false)
      await expect(conn.query('SELECT 1')).rejects.toBeTruthy()
      conn.destroy()
    } finally {
      await broker.close()
    }
  })

  test('sweep() drops stale accounts left by another process, and close() drops live ones', async () => {
    const stale = `${prefix}${Math.floor(Date.now() / 1000 - 60).toString(36)}_deadbeef00`
    await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [stale, '%', 'x-stale-pw'])
    const broker = mysqlUserBroker({ admin: ADMIN, grants: [`SELECT ON \`${db}\`.*`], ttl: '5m', prefix })
    const lease = await broker.issue(request)
    expect(await broker.sweep()).toBe(1)
    expect(await userExists(stale)).toBe(false)
    const user = (lease.credential as { username: string }).username
    expect(await userExists(user)).toBe(true) // live, not expired: kept
    await broker.close()
    expect(await userExists(user)).toBe(false)
    await expect(broker.issue(request)).rejects.toMatchObject({ code: 'ERR_WARDEN_BROKER' })
  })

  test('rejects grants that are not one GRANT clause, and bad options', async () => {
    const broker = mysqlUserBroker({
      admin: ADMIN,
      grants: [`SELECT ON \`${db}\`.* TO x; DROP DATABASE \`${db}\`; GRANT SELECT ON a.*`],
      ttl: '1m',
      prefix,
    })
    try {
      await expect(broker.issue(request)).rejects.toThrow(/does not read as one GRANT clause/)
    } finally {
      await broker.close()
    }
    expect(() => mysqlUserBroker({ admin: ADMIN, grants: [], ttl: '1m' })).toThrow(/grants/)
    expect(() => mysqlUserBroker({ admin: ADMIN, grants: ['SELECT ON a.*'], ttl: 'soon' })).toThrow(/ttl/)
    expect(() =>
      mysqlUserBroker({ admin: ADMIN, grants: ['SELECT ON a.*'], ttl: 10, prefix: 'bad-prefix' }),
    ).toThrow(/prefix/)
  })

  test('a failing grant leaves no account behind and the error holds no password', async () => {
    const broker = mysqlUserBroker({
      admin: ADMIN,
      grants: ['SELECT ON nosuchdb_wd.nosuchtable'],
      ttl: '1m',
      prefix,
    })
    try {
      const err = await broker.issue(request).catch((e) => e)
      expect(err).toMatchObject({ code: 'ERR_WARDEN_BROKER' })
      expect(err.cause).toBeUndefined()
      const [rows] = await admin.query('SELECT count(*) AS n FROM mysql.user WHERE User LIKE ?', [
        `${prefix.replace(/_/g, '\\_')}%`,
      ])
      expect((rows as { n: number }[])[0]?.n).toBe(0)
    } finally {
      await broker.close()
    }
  })
})
