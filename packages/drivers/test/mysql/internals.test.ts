// The mysql2 internals the driver relies on (src/mysql/mysql2-internals.ts), checked against the
// installed mysql2, plus the tripwire on raw use of a guarded connection.
import mysql from 'mysql2'
import { describe, expect, test } from 'vitest'
import { guardConnection, withTicket } from '../../src/mysql/internal/guard.js'
import {
  createQuery,
  formatterFor,
  MYSQL2_RANGE,
  type Mysql2Connection,
  mysql2Problem,
  mysql2Version,
} from '../../src/mysql/mysql2-internals.js'
import { ADMIN } from './fixtures/mysql-fixture.js'

describe('mysql2 internals', () => {
  test(`the installed mysql2 (${mysql2Version}) is in ${MYSQL2_RANGE} and has every internal`, () => {
    expect(mysql2Problem()).toBe('')
  })

  test('the formatter predicts the text mysql2 sends, named placeholders included', async () => {
    const conn = mysql.createConnection({ ...ADMIN, namedPlaceholders: true }) as unknown as Mysql2Connection
    try {
      const formatter = formatterFor(conn.config)
      const cases: [string, unknown][] = [
        ['SELECT ? AS a, ? AS b', [1, "it's"]],
        ['SELECT :x AS a, :y AS b', { x: 'q?', y: null }],
        ['SELECT ?? FROM dual', [['a']]],
        ['SELECT 1', undefined],
      ]
      for (const [sql, values] of cases) {
        const predicted = formatter.query(createQuery(sql, values, () => {}, conn.config))
        const real = createQuery(sql, values, () => {}, conn.config)
        conn.query(real)
        await new Promise((resolve) => real.once('end', resolve))
        expect(real.sql).toBe(predicted)
      }
      expect(formatter.execute({ sql: 'SELECT :x + :x', values: { x: 1 } })).toBe('SELECT ? + ?')
    } finally {
      conn.destroy()
    }
  })

  test('PoolConnection keeps the config object the pool created for it (credentials go there)', async () => {
    const pool = mysql.createPool({ ...ADMIN, connectionLimit: 1 }) as unknown as {
      _createConnectionConfig(): Record<string, unknown>
      getConnection(cb: (err: Error | null, conn: Mysql2Connection) => void): void
      end(): void
    }
    const made: object[] = []
    const orig = pool._createConnectionConfig.bind(pool)
    pool._createConnectionConfig = () => {
      const c = orig()
      made.push(c)
      return c
    }
    let sync = false
    const conn = await new Promise<Mysql2Connection>((resolve, reject) => {
      pool.getConnection((err, c) => (err ? reject(err) : resolve(c)))
      sync = made.length === 1 // created synchronously inside getConnection
    })
    expect(sync).toBe(true)
    expect(conn.config).toBe(made[0])
    conn.release?.()
    pool.end()
  })
})

describe('the tripwire on a guarded connection', () => {
  const open = async () => {
    const conn = mysql.createConnection(ADMIN) as unknown as Mysql2Connection
    guardConnection(conn)
    await new Promise((resolve, reject) => {
      conn.once('connect', resolve)
      conn.once('error', reject)
    })
    return conn
  }

  test('refuses a raw query, execute, changeUser; lets plumbing (ping) through', async () => {
    const conn = await open()
    try {
      const raw = await new Promise<Error | null>((resolve) =>
        (conn as unknown as mysql.Connection).query('SELECT 1', (err) => resolve(err)),
      )
      expect(raw).toMatchObject({ code: 'ERR_WARDEN_UNSUPPORTED' })
      const exec = await new Promise<Error | null>((resolve) =>
        (conn as unknown as mysql.Connection).execute('SELECT 1', (err) => resolve(err)),
      )
      expect(exec).toMatchObject({ code: 'ERR_WARDEN_UNSUPPORTED' })
      const change = await new Promise<Error | null>((resolve) =>
        (conn as unknown as mysql.Connection).changeUser({ user: 'root' }, (err) => resolve(err ?? null)),
      )
      expect(change).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
      await new Promise<void>((resolve, reject) => conn.ping((err) => (err ? reject(err) : resolve())))
      // A raw query without any listener does not crash the process.
      ;(conn as unknown as mysql.Connection).query('SELECT 2')
      await new Promise((resolve) => setTimeout(resolve, 20))
    } finally {
      conn.destroy()
    }
  })

  test('a ticket admits exactly its text', async () => {
    const conn = await open()
    try {
      const ticket = { text: 'SELECT 1 AS one', masker: null, typeCast: undefined }
      const ok = await new Promise<unknown>((resolve, reject) =>
        withTicket(ticket, () =>
          (conn as unknown as mysql.Connection).query('SELECT 1 AS one', (err, rows) =>
            err ? reject(err) : resolve(rows),
          ),
        ),
      )
      expect(ok).toEqual([{ one: 1 }])
      const other = await new Promise<Error | null>((resolve) =>
        withTicket(ticket, () =>
          (conn as unknown as mysql.Connection).query('SELECT 2 AS two', (err) => resolve(err)),
        ),
      )
      expect(other).toMatchObject({
        code: 'ERR_WARDEN_UNSUPPORTED',
        message: expect.stringMatching(/differs from the text that was classified/),
      })
    } finally {
      conn.destroy()
    }
  })
})
