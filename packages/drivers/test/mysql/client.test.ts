import { inspect } from 'node:util'
import type { Session } from '@warden/core'
import { createConnection, createPool, type Pool } from '@warden/drivers/mysql'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Fixture, openFixture } from './fixtures/mysql-fixture.js'

let fx: Fixture
let session: Session
let pool: Pool

beforeAll(async () => {
  fx = await openFixture('client')
  session = await fx.session()
  pool = createPool(session, { resource: 'shop', host: '127.0.0.1', database: fx.db, connectionLimit: 3 })
})
afterAll(async () => {
  await pool?.end()
  await fx?.close()
})

describe('pool: call shapes', () => {
  test('query, with values formatted client-side, returns mysql2 shapes and is audited', async () => {
    const [rows, fields] = await pool.query(
      'SELECT id, total FROM orders WHERE customer_id = ? ORDER BY id',
      [1],
    )
    expect(rows).toEqual([
      { id: 10, total: '12.50' },
      { id: 12, total: '7.25' },
    ])
    expect(fields.map((f) => f.name)).toEqual(['id', 'total'])
    const record = fx.audit.last()
    expect(record).toMatchObject({
      command: 'SELECT id, total FROM orders WHERE customer_id = ? ORDER BY id',
      outcome: { status: 'ok', rows: 2 },
    })
    expect(record.facts).toMatchObject({
      types: ['SELECT'],
      reads: ['orders'],
      text: 'SELECT id, total FROM orders WHERE customer_id = ? ORDER BY id',
    })
  })

  test('query(options) with rowsAsArray and nestTables', async () => {
    const [arrays] = await pool.query({ sql: 'SELECT id FROM orders ORDER BY id', rowsAsArray: true })
    expect(arrays).toEqual([[10], [11], [12]])
    const [nested] = await pool.query({
      sql: 'SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = 10',
      nestTables: true,
    })
    expect(nested).toEqual([{ o: { id: 10 }, c: { name: 'Ada' } }])
  })

  test('execute: prepared protocol, template classified, values sent apart', async () => {
    const [rows] = await pool.execute('SELECT note FROM orders WHERE id = ?', [11])
    expect(rows).toEqual([{ note: 'second' }])
    expect(fx.audit.last()).toMatchObject({
      command: 'SELECT note FROM orders WHERE id = ?',
      outcome: { status: 'ok' },
    })
  })

  test('writes report affected rows', async () => {
    const [result] = await pool.query('UPDATE orders SET note = ? WHERE id = ?', ['changed', 12])
    expect(result.affectedRows).toBe(1)
    expect(fx.audit.last()).toMatchObject({
      outcome: { status: 'ok', rows: 1 },
      facts: { types: ['UPDATE'], writes: ['orders'] },
    })
  })

  test('getConnection: transactions and prepared statements on one connection', async () => {
    const conn = await pool.getConnection()
    try {
      await conn.beginTransaction()
      await conn.query('INSERT INTO orders VALUES (?, ?, ?, ?)', [20, 2, 1.0, 'tx'])
      await conn.rollback()
      const stmt = await conn.prepare('SELECT count(*) AS n FROM orders WHERE id >= ?')
      const [rows] = await stmt.execute([20])
      expect(rows).toEqual([{ n: 0 }])
      await stmt.close()
      expect(
        fx.audit
          .commands()
          .slice(-4)
          .map((r) => r.command),
      ).toEqual([
        'START TRANSACTION',
        'INSERT INTO orders VALUES (?, ?, ?, ?)',
        'ROLLBACK',
        'SELECT count(*) AS n FROM orders WHERE id >= ?',
      ])
    } finally {
      conn.release()
    }
  })

  test('callback API: query with a callback, and a stream', async () => {
    const viaCallback = await new Promise<unknown>((resolve, reject) =>
      pool.pool.query('SELECT id FROM orders WHERE id = ?', [10], (err, rows) =>
        err ? reject(err) : resolve(rows),
      ),
    )
    expect(viaCallback).toEqual([{ id: 10 }])
    const streamed: unknown[] = []
    for await (const row of pool.pool.query('SELECT id FROM orders ORDER BY id').stream()) streamed.push(row)
    expect(streamed).toEqual([{ id: 10 }, { id: 11 }, { id: 12 }])
  })

  test('a server error reaches the caller with the template, not the values', async () => {
    const err = await pool
      .query('SELECT nosuchcolumn FROM orders WHERE note = ?', ['value-zz-4711'])
      .catch((e) => e)
    expect(err.code).toBe('ER_BAD_FIELD_ERROR')
    expect(err.sql).toBe('SELECT nosuchcolumn FROM orders WHERE note = ?')
    expect(inspect(err)).not.toContain('value-zz-4711')
    expect(fx.audit.last()).toMatchObject({ outcome: { status: 'error', code: 'ER_BAD_FIELD_ERROR' } })
  })
})

describe('createConnection', () => {
  test('query / execute / end; the credential is nowhere to be seen', async () => {
    const conn = await createConnection(session, { resource: 'shop', host: '127.0.0.1', database: fx.db })
    const [rows] = await conn.query('SELECT name FROM customers WHERE id = 2')
    expect(rows).toEqual([{ name: 'Bob' }])
    const [r2] = await conn.execute('SELECT name FROM customers WHERE id = ?', [1])
    expect(r2).toEqual([{ name: 'Ada' }])
    expect(typeof conn.threadId).toBe('number')
    await conn.end()
  })
})
