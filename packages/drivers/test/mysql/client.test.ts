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

describe('more call shapes', () => {
  test('named placeholders: query (formatted) and execute (resolved to ?)', async () => {
    const named = createPool(session, {
      resource: 'shop',
      host: '127.0.0.1',
      database: fx.db,
      namedPlaceholders: true,
    })
    try {
      const [a] = await named.query(
        'SELECT id FROM orders WHERE customer_id = :c AND id > :min ORDER BY id',
        { c: 1, min: 10 },
      )
      expect(a).toEqual([{ id: 12 }])
      expect(fx.audit.last()).toMatchObject({
        command: 'SELECT id FROM orders WHERE customer_id = :c AND id > :min ORDER BY id',
      })
      const [b] = await named.execute('SELECT id FROM orders WHERE id = :id', { id: 11 })
      expect(b).toEqual([{ id: 11 }])
      expect(fx.audit.last()).toMatchObject({ command: 'SELECT id FROM orders WHERE id = ?' })
    } finally {
      await named.end()
    }
  })

  test('query(options, values) and execute(options, values)', async () => {
    const [a] = await pool.query({ sql: 'SELECT id FROM orders WHERE id = ?', values: [10] })
    expect(a).toEqual([{ id: 10 }])
    const [b] = await pool.execute({ sql: 'SELECT id FROM orders WHERE id = ?' }, [11])
    expect(b).toEqual([{ id: 11 }])
  })

  test('callback execute on the pool, and the callback API of a connection', async () => {
    const viaExecute = await new Promise<unknown>((resolve, reject) =>
      pool.pool.execute('SELECT id FROM orders WHERE id = ?', [12], (err, rows) =>
        err ? reject(err) : resolve(rows),
      ),
    )
    expect(viaExecute).toEqual([{ id: 12 }])
    const conn = await pool.getConnection()
    try {
      const rows = await new Promise<unknown>((resolve, reject) =>
        conn.connection.query('SELECT id FROM orders WHERE id = 10', (err, r) =>
          err ? reject(err) : resolve(r),
        ),
      )
      expect(rows).toEqual([{ id: 10 }])
      const events: string[] = []
      await new Promise<void>((resolve, reject) => {
        const q = conn.connection.query('SELECT id FROM orders ORDER BY id LIMIT 2')
        q.on('fields', () => events.push('fields'))
        q.on('result', (row: { id: number }) => events.push(`row ${row.id}`))
        q.on('error', reject)
        q.on('end', () => resolve())
      })
      expect(events).toEqual(['fields', 'row 10', 'row 11'])
      await conn.ping()
    } finally {
      conn.release()
    }
  })

  test('commands on one connection run in call order', async () => {
    const conn = await pool.getConnection()
    try {
      const order: number[] = []
      await Promise.all([1, 2, 3, 4].map((i) => conn.query('SELECT ? AS i', [i]).then(() => order.push(i))))
      expect(order).toEqual([1, 2, 3, 4])
    } finally {
      conn.release()
    }
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
