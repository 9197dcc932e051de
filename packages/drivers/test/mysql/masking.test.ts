import { createWarden, memorySink, type Session } from '@warden/core'
import { createConnection, createPool, type Pool } from '@warden/drivers/mysql'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Fixture, openFixture } from './fixtures/mysql-fixture.js'

const SSN = '123-45-6789'
const EMAIL = 'ada@example.com'
let fx: Fixture
let session: Session
let pool: Pool

beforeAll(async () => {
  fx = await openFixture('masking')
  session = await fx.session() // groups: readers (not pii-readers): ssn and email are masked
  pool = createPool(session, { resource: 'shop', host: '127.0.0.1', database: fx.db, connectionLimit: 2 })
})
afterAll(async () => {
  await pool?.end()
  await fx?.close()
})

/** A one-connection pool on the test database for another session. */
const onePool = (s: Session) =>
  createPool(s, { resource: 'shop', host: '127.0.0.1', database: fx.db, connectionLimit: 1 })

const clean = (value: unknown) => {
  const text = JSON.stringify(value)
  expect(text).not.toContain(SSN)
  expect(text).not.toContain(EMAIL)
}

describe('masking by the real column origin', () => {
  test('plain select: masked columns redacted, others intact, counted in the audit', async () => {
    const [rows] = await pool.query('SELECT id, name, ssn, email FROM customers WHERE id = 1')
    expect(rows).toEqual([{ id: 1, name: 'Ada', ssn: '[redacted]', email: '[redacted]' }])
    expect(fx.audit.last()?.masked).toEqual(
      expect.arrayContaining([
        { column: 'ssn', strategy: 'redact', count: 1 },
        { column: 'email', strategy: 'redact', count: 1 },
      ]),
    )
  })

  const shapes: [string, () => Promise<unknown>][] = [
    [
      'an alias',
      async () => (await pool.query('SELECT ssn AS x, email AS y FROM customers WHERE id = 1'))[0],
    ],
    [
      'a table alias and a join',
      async () =>
        (
          await pool.query(
            'SELECT c.ssn AS s FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = 10',
          )
        )[0],
    ],
    [
      'rowsAsArray',
      async () =>
        (await pool.query({ sql: 'SELECT ssn, email FROM customers WHERE id = 1', rowsAsArray: true }))[0],
    ],
    [
      'nestTables',
      async () =>
        (
          await pool.query({ sql: 'SELECT c.ssn, c.email FROM customers c WHERE id = 1', nestTables: true })
        )[0],
    ],
    [
      'nestTables with a separator',
      async () =>
        (await pool.query({ sql: 'SELECT ssn AS a FROM customers WHERE id = 1', nestTables: '_' }))[0],
    ],
    [
      'typeCast: false',
      async () =>
        (await pool.query({ sql: 'SELECT ssn AS a FROM customers WHERE id = 1', typeCast: false }))[0],
    ],
    [
      'a custom typeCast (it would see values before masking, so it is not called)',
      async () => {
        const seen: unknown[] = []
        const typeCast = (_field: unknown, next: () => unknown) => {
          const v = next()
          seen.push(v)
          return v
        }
        const [rows] = await pool.query({
          sql: 'SELECT ssn AS a FROM customers WHERE id = 1',
          typeCast,
        } as never)
        return [rows, seen]
      },
    ],
    [
      'execute (binary protocol)',
      async () => (await pool.execute('SELECT ssn AS x FROM customers WHERE id = ?', [1]))[0],
    ],
    [
      'execute with rowsAsArray',
      async () =>
        (
          await pool.execute({ sql: 'SELECT ssn AS x FROM customers WHERE id = ?', rowsAsArray: true }, [1])
        )[0],
    ],
    [
      'a prepared statement',
      async () => {
        const conn = await pool.getConnection()
        try {
          const stmt = await conn.prepare('SELECT ssn AS x FROM customers WHERE id = ?')
          return (await stmt.execute([1]))[0]
        } finally {
          conn.release()
        }
      },
    ],
    [
      'the callback API',
      () =>
        new Promise((resolve, reject) =>
          pool.pool.query('SELECT ssn AS q FROM customers', (err, rows) =>
            err ? reject(err) : resolve(rows),
          ),
        ),
    ],
    [
      'a stream',
      async () => {
        const rows: unknown[] = []
        for await (const row of pool.pool.query('SELECT ssn, email FROM customers').stream()) rows.push(row)
        return rows
      },
    ],
    [
      'a dedicated connection',
      async () => {
        const conn = await createConnection(session, { resource: 'shop', host: '127.0.0.1', database: fx.db })
        try {
          return (await conn.query('SELECT ssn AS hidden FROM customers'))[0]
        } finally {
          await conn.end()
        }
      },
    ],
    [
      'a UNION',
      async () =>
        (await pool.query('SELECT ssn FROM customers WHERE id = 1 UNION ALL SELECT email FROM customers'))[0],
    ],
    [
      'two result sets (multipleStatements)',
      async () => {
        const multi = createPool(session, {
          resource: 'shop',
          host: '127.0.0.1',
          database: fx.db,
          multipleStatements: true,
        })
        try {
          const [sets] = await multi.query('SELECT ssn FROM customers; SELECT id, email AS e FROM customers')
          expect(sets).toHaveLength(2)
          return sets
        } finally {
          await multi.end()
        }
      },
    ],
  ]
  test.each(shapes)('masked through %s', async (_name, run) => {
    const result = await run()
    clean(result)
    expect(JSON.stringify(result)).toContain('[redacted]')
  })

  test('computed columns carry the masks of the columns they read (no origin in the field packet)', async () => {
    const leaks = [
      'SELECT UPPER(ssn) AS x FROM customers WHERE id = 1',
      "SELECT CONCAT(ssn, '') AS x FROM customers WHERE id = 1",
      "SELECT CONCAT_WS(',', c.name, c.email) AS x FROM customers c WHERE c.id = 1",
      'SELECT x FROM (SELECT LOWER(email) AS x FROM customers WHERE id = 1) t',
      'SELECT (SELECT ssn FROM customers WHERE id = 1) AS x',
      'SELECT GROUP_CONCAT(ssn) AS x FROM customers WHERE id = 1',
      "SELECT JSON_OBJECT('s', ssn) AS x FROM customers WHERE id = 1",
      'WITH w AS (SELECT email FROM customers WHERE id = 1) SELECT REVERSE(email) AS x FROM w',
    ]
    for (const text of leaks) {
      const [rows] = await pool.query(text)
      clean(rows)
      expect({ text, rows }).toEqual({ text, rows: [{ x: '[redacted]' }] })
    }
    const [prepared] = await pool.execute('SELECT UPPER(ssn) AS x FROM customers WHERE id = ?', [1])
    expect(prepared).toEqual([{ x: '[redacted]' }])
  })

  test('computed columns that read no masked column, and predicates, are left alone', async () => {
    const [rows] = await pool.query(
      "SELECT UPPER(name) AS n, COUNT(*) AS c, id * 2 AS twice FROM customers WHERE ssn LIKE '123-%' AND email <> '' GROUP BY id, name HAVING COUNT(ssn) > 0 ORDER BY email",
    )
    expect(rows).toEqual([{ n: 'ADA', c: 1, twice: 2 }])
    // Same result shape, different statements: only the one that reads a masked column is masked.
    expect((await pool.query('SELECT UPPER(name) AS x FROM customers WHERE id = 1'))[0]).toEqual([
      { x: 'ADA' },
    ])
    expect((await pool.query('SELECT UPPER(email) AS x FROM customers WHERE id = 1'))[0]).toEqual([
      { x: '[redacted]' },
    ])
  })

  test('text the parser could not read, allowed by a permissive policy: every column may carry anything', async () => {
    const permissive = createWarden({
      policy: compilePolicy({
        defaults: { effect: 'allow' },
        masks: [{ name: 'pii', columns: ['customers.ssn'], strategy: 'redact' }],
      } as never),
      // The fixture's broker, without handing it over (closing this Warden would close it).
      broker: { issue: (request) => fx.broker.issue(request), revoke: (lease) => fx.broker.revoke(lease) },
      audit: memorySink(),
    })
    const open = onePool(await permissive.session({ principal: { id: 'svc-open', type: 'service' } }))
    try {
      // An executable comment: parsed: false, and the server runs what is inside it.
      const [rows] = await open.query('SELECT /*!50000 UPPER(ssn) AS x, */ name FROM customers WHERE id = 1')
      expect(rows).toEqual([{ x: '[redacted]', name: '[redacted]' }])
    } finally {
      await open.end()
      await permissive.close()
    }
  })

  test('under masks, server errors that quote a value back do not carry it', async () => {
    // A failed conversion of a masked column's value (strict mode: an error, with the value quoted).
    const err = (await pool
      .query(
        "INSERT INTO orders (id, customer_id, total, note) SELECT 99, id, ssn, 'x' FROM customers WHERE id = 1",
      )
      .catch((e: unknown) => e)) as { errno?: number; message: string; sqlMessage?: string; stack?: string }
    expect([1265, 1292, 1366]).toContain(err.errno)
    clean({ m: err.message, s: err.sqlMessage, st: err.stack })
    expect(err.message).toContain("'[redacted]'")
    const dup = (await pool
      .query(
        'INSERT INTO customers (id, name, email, ssn) SELECT 1, name, email, ssn FROM customers WHERE id = 2',
      )
      .catch((e: unknown) => e)) as { errno?: number; message: string }
    expect(dup.errno).toBe(1062)
    expect(dup.message).toContain("'[redacted]'")
    clean(fx.audit.records)
  })

  test('a pii-reader sees clear values, and NULL stays NULL', async () => {
    const reader = await fx.session({ id: 'svc-pii', groups: ['readers', 'pii-readers'] })
    const readerPool = onePool(reader)
    try {
      const [rows] = await readerPool.query('SELECT ssn AS x FROM customers WHERE id = 1')
      expect(rows).toEqual([{ x: SSN }])
    } finally {
      await readerPool.end()
    }
    const [nulls] = await pool.query('SELECT NULL AS ssn, ssn FROM customers WHERE id = 3')
    expect(nulls).toEqual([])
    await fx.admin.query(`INSERT INTO \`${fx.db}\`.customers VALUES (3, 'Cy', NULL, NULL)`)
    const [withNull] = await pool.query('SELECT ssn, email FROM customers WHERE id = 3')
    expect(withNull).toEqual([{ ssn: null, email: null }])
  })

  test('a connection-level typeCast still applies when no masks do', async () => {
    const reader = await fx.session({ id: 'svc-pii2', groups: ['pii-readers'] })
    const typed = createPool(reader, {
      resource: 'shop',
      host: '127.0.0.1',
      database: fx.db,
      typeCast: (field: { type: string }, next: () => unknown) =>
        field.type === 'LONG' ? `#${next()}` : next(),
    })
    try {
      const [rows] = await typed.query('SELECT id, name FROM customers WHERE id = 1')
      expect(rows).toEqual([{ id: '#1', name: 'Ada' }])
    } finally {
      await typed.end()
    }
  })
})
