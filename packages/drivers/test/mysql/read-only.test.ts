// Issue 14: a read is a read. Through the guarded pool, as a reader under the example policies
// (examples/policies), every way to write through a read is refused, by the policy or by MariaDB
// under the read-only mode, and the database shows no change; legitimate reads succeed.
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createWarden, type MemorySink, memorySink, type Session, type Warden } from '@warden/core'
import { createPool, type MysqlUserBroker, mysqlUserBroker, type Pool } from '@warden/drivers/mysql'
import { loadPolicy, WardenDeniedError } from '@warden/policy'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADMIN } from './fixtures/mysql-fixture.js'

const EXAMPLES = fileURLToPath(new URL('../../../../examples/policies', import.meta.url))
const id = randomBytes(3).toString('hex')
const DB = `ro14m_${id}`
const RESOURCE = 'orders-ro14m' // `mysql:orders-*`: where the example policy lets readers read
const LOCK = `ro14m_${id}`

let admin: mysql.Connection
let broker: MysqlUserBroker
let audit: MemorySink
let warden: Warden
let reader: Session
let writer: Session
let pool: Pool
let multi: Pool

beforeAll(async () => {
  admin = await mysql.createConnection({ ...ADMIN, multipleStatements: true })
  await admin.query(`CREATE DATABASE \`${DB}\``)
  await admin.query(`USE \`${DB}\``)
  await admin.query(`
    CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, total DECIMAL(10,2)) ENGINE=InnoDB;
    CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB;
    CREATE TABLE journal (msg VARCHAR(40)) ENGINE=MyISAM;
    CREATE TABLE fired (msg VARCHAR(40)) ENGINE=InnoDB;
    INSERT INTO orders VALUES (10, 1, 12.50), (11, 2, 99.00), (12, 1, 7.25);
    INSERT INTO customers VALUES (1, 'Ada'), (2, 'Bob');
    CREATE SEQUENCE seq;
    CREATE TRIGGER orders_fire AFTER UPDATE ON orders FOR EACH ROW INSERT INTO fired VALUES ('trigger');
    CREATE FUNCTION del_orders() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM orders WHERE id = 12; RETURN 1; END;
    CREATE FUNCTION note_myisam() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO journal VALUES ('x'); RETURN 1; END;
    CREATE FUNCTION bump_total() RETURNS INT MODIFIES SQL DATA BEGIN UPDATE orders SET total = total + 1 WHERE id = 10; RETURN 1; END;
    CREATE FUNCTION make_temp() RETURNS INT MODIFIES SQL DATA BEGIN CREATE TEMPORARY TABLE IF NOT EXISTS scratch (a INT); RETURN 1; END;
    CREATE FUNCTION seq_next() RETURNS INT MODIFIES SQL DATA RETURN nextval(seq);
    CREATE VIEW v_orders AS SELECT o.*, del_orders() AS x FROM orders o;
  `)
  broker = mysqlUserBroker({
    admin: ADMIN,
    grants: [`SELECT, INSERT, UPDATE, DELETE, EXECUTE ON \`${DB}\`.*`],
    ttl: '2m',
    prefix: `ro14m${id}_`,
  })
  audit = memorySink()
  warden = createWarden({ policy: await loadPolicy(EXAMPLES), broker, audit })
  reader = await warden.session({ principal: { id: 'svc-reports', type: 'service', groups: ['readers'] } })
  writer = await warden.session({ principal: { id: 'svc-orders', type: 'service', groups: ['writers'] } })
  const config = { resource: RESOURCE, host: '127.0.0.1', database: DB, connectionLimit: 2 }
  pool = createPool(warden, config)
  multi = createPool(warden, { ...config, multipleStatements: true })
})

afterAll(async () => {
  await pool?.end()
  await multi?.end()
  await warden?.close().catch(() => undefined)
  await broker?.close().catch(() => undefined)
  await admin?.query(`DROP DATABASE IF EXISTS \`${DB}\``)
  await admin?.end()
})

/** Everything a write could change: rows, the sequence, the named lock, the trigger's table. */
async function snapshot(): Promise<string> {
  const [rows] = await admin.query(`
    SELECT * FROM orders ORDER BY id; SELECT * FROM customers ORDER BY id; SELECT * FROM journal;
    SELECT * FROM fired; SELECT next_not_cached_value FROM seq; SELECT IS_USED_LOCK('${LOCK}') AS l`)
  return JSON.stringify(rows)
}

async function refused(run: () => Promise<unknown>): Promise<WardenDeniedError> {
  const before = await snapshot()
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(WardenDeniedError)
  expect(await snapshot()).toBe(before)
  return error as WardenDeniedError
}

const asReader = (sql: string, p: Pool = pool) => reader.run(() => p.query(sql))

describe('a reader: refused by the server under the read-only mode (the policy allowed a read)', () => {
  const cases = [
    'SELECT del_orders()',
    'SELECT * FROM v_orders',
    'SELECT note_myisam()', // a non-transactional (MyISAM) table
    'SELECT bump_total()', // an UPDATE whose trigger writes elsewhere
    'SELECT make_temp()', // temporary tables are refused by MariaDB's read-only mode too
    'SELECT seq_next()', // nextval behind a function
    'SELECT id FROM orders WHERE del_orders() = 1',
    'SHOW TABLES WHERE del_orders() = 1',
    'SELECT (SELECT del_orders()) AS x',
  ]
  test.each(cases)('%s', async (sql) => {
    const error = await refused(() => asReader(sql))
    expect(error.rule).toBe('warden:read-only')
    expect(error.message).toMatch(/the server refused a write/)
    const record = audit.last()
    expect(record.decision?.effect).toBe('allow')
    // The refusal is what the audit shows (core records it with its code; see the report).
    expect(record.outcome).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    expect(record.outcome?.error).toContain('warden:read-only')
  })

  test('the prepared protocol, the callback API and a stream are refused the same way', async () => {
    const e1 = await refused(() => reader.run(() => pool.execute('SELECT del_orders() AS x')))
    expect(e1.rule).toBe('warden:read-only')
    const streamed = await refused(
      () =>
        new Promise((resolve, reject) => {
          reader.run(() => {
            const q = pool.pool.query('SELECT id, del_orders() FROM orders')
            q.on('error', reject)
            q.on('end', resolve)
          })
        }),
    )
    expect(streamed.rule).toBe('warden:read-only')
    const viaCallback = await refused(
      () =>
        new Promise((resolve, reject) =>
          reader.run(() => pool.pool.query('SELECT del_orders()', (err) => (err ? reject(err) : resolve(1)))),
        ),
    )
    expect(viaCallback.rule).toBe('warden:read-only')
  })

  test("inside the reader's XA transaction (it takes the session's read-only mode)", async () => {
    const conn = await reader.run(() => pool.getConnection())
    try {
      await reader.run(() => conn.query(`XA START 'xa_${id}'`))
      const [rows] = await reader.run(() => conn.query('SELECT count(*) AS n FROM orders'))
      expect(rows).toEqual([{ n: 3 }])
      const error = await refused(() => reader.run(() => conn.query('SELECT del_orders()')))
      expect(error.rule).toBe('warden:read-only')
      await reader.run(() => conn.query(`XA END 'xa_${id}'`))
      await reader.run(() => conn.query(`XA ROLLBACK 'xa_${id}'`))
      // and after it, the connection is back to autocommit reads under the mode
      await refused(() => reader.run(() => conn.query('SELECT * FROM v_orders')))
    } finally {
      conn.release()
    }
  })

  test("inside the reader's own transaction (a plain BEGIN begins read-only for a reader)", async () => {
    const conn = await reader.run(() => pool.getConnection())
    try {
      await reader.run(() => conn.beginTransaction())
      const [rows] = await reader.run(() => conn.query('SELECT count(*) AS n FROM orders'))
      expect(rows).toEqual([{ n: 3 }])
      const error = await refused(() => reader.run(() => conn.query('SELECT del_orders()')))
      expect(error.rule).toBe('warden:read-only')
      await reader.run(() => conn.rollback())
      // START TRANSACTION READ ONLY is a read too, and enforced the same way
      await reader.run(() => conn.query('START TRANSACTION READ ONLY'))
      await refused(() => reader.run(() => conn.query('SELECT * FROM v_orders')))
      await reader.run(() => conn.query('COMMIT'))
    } finally {
      conn.release()
    }
  })
})

describe('a reader: refused by the policy (the facts say write, or name an effect)', () => {
  const cases: [string, string][] = [
    ['SELECT nextval(seq)', 'sequence'],
    ['SELECT setval(seq, 100)', 'sequence'],
    ['SELECT * FROM orders FOR UPDATE', 'lock'],
    ['SELECT * FROM orders WHERE id = 10 FOR UPDATE NOWAIT', 'lock'],
    ['SELECT * FROM orders FOR UPDATE SKIP LOCKED', 'lock'],
    ['SELECT * FROM (SELECT * FROM orders FOR UPDATE) o', 'lock'],
    ['LOCK TABLES orders WRITE', 'lock'],
    ['LOCK TABLES orders READ', 'lock'],
    ['SET SESSION TRANSACTION READ WRITE', 'transaction_control'],
    ['SET TRANSACTION READ WRITE', 'transaction_control'],
    ['SET tx_read_only = 0', 'transaction_control'],
    ['SET @@session.tx_read_only = DEFAULT', 'transaction_control'],
    ['SET completion_type = CHAIN', 'transaction_control'],
    ['START TRANSACTION READ WRITE', 'transaction_control'],
    ['START TRANSACTION WITH CONSISTENT SNAPSHOT, READ WRITE', 'transaction_control'],
    // MariaDB's per-statement setting would lift the mode for exactly the statement that writes.
    ['SET STATEMENT tx_read_only = 0 FOR SELECT del_orders()', 'transaction_control'],
    ['SET STATEMENT tx_read_only = OFF FOR DELETE FROM orders WHERE id = 12', 'transaction_control'],
    ['SET @a := 1, tx_read_only = 0', 'transaction_control'],
    ['SET GLOBAL max_user_connections = 0', 'server_config'],
    ['SET @@global.max_user_connections = 0', 'server_config'],
    ["SET PASSWORD = PASSWORD('x')", 'role_change'],
    ['KILL 1', 'signal_backend'],
    ['FLUSH TABLES', 'server_config'],
  ]
  test.each(cases)('%s (%s)', async (sql, effect) => {
    await refused(() => asReader(sql))
    const record = audit.last()
    expect(record.decision?.effect).toBe('deny')
    expect(record.facts?.effects).toContain(effect)
    expect(record.outcome?.status).toBe('denied') // never ran
  })

  test.each([
    `SELECT GET_LOCK('${LOCK}', 0)`,
    `SELECT \`get_lock\`('${LOCK}', 0)`,
    "SELECT LOAD_FILE('/etc/hostname')",
  ])('%s: an effect the read-only mode does not stop is refused by the example policy', async (sql) => {
    await refused(() => asReader(sql))
    expect(audit.last().decision?.effect).toBe('deny')
  })

  test.each([
    "SELECT * FROM orders INTO OUTFILE '/tmp/ro14m-out'",
    'SELECT 1; COMMIT; SELECT del_orders()',
    'SELECT 1; SET SESSION TRANSACTION READ WRITE; SELECT del_orders()',
    'COMMIT; START TRANSACTION READ WRITE; DELETE FROM orders WHERE id = 12',
    'SELECT 1; SET tx_read_only = 0; SELECT bump_total()',
    'SELECT 1; BEGIN; SELECT del_orders()',
    'SELECT 1; ROLLBACK; SELECT del_orders()',
    'SELECT 1; SET STATEMENT tx_read_only = 0 FOR SELECT del_orders()',
  ])('multi-statement escapes from the mode: %s', async (sql) => {
    await refused(() => asReader(sql, multi))
    expect(audit.last().decision?.effect).toBe('deny')
  })
})

describe('legitimate reads succeed under the mode', () => {
  test.each([
    'SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY o.id',
    'WITH big AS (SELECT * FROM orders WHERE total > 10) SELECT count(*) AS n FROM big',
    'SELECT id, SUM(total) OVER (PARTITION BY customer_id ORDER BY id) AS running FROM orders',
    'EXPLAIN SELECT * FROM orders WHERE id = 10',
    'SELECT customer_id, SUM(total) AS t FROM orders GROUP BY customer_id WITH ROLLUP',
    'EXPLAIN EXTENDED SELECT * FROM orders WHERE id = 10',
    'SELECT * FROM orders LIMIT ROWS EXAMINED 100',
    'CHECK TABLE orders',
    'CHECKSUM TABLE orders',
    'SHOW TABLES',
    'SELECT lastval(seq) AS l',
    'SELECT * FROM orders LIMIT 1',
  ])('%s', async (sql) => {
    const before = await snapshot()
    const [rows] = await asReader(sql)
    expect(Array.isArray(rows)).toBe(true)
    expect(audit.last().outcome?.status).toBe('ok')
    expect(await snapshot()).toBe(before)
  })
})

describe('writers are not hindered', () => {
  test('reads and writes alternate on one pool; a plain BEGIN begins read-write for a writer', async () => {
    await writer.run(() => pool.query('UPDATE orders SET total = total WHERE id = 11'))
    await writer.run(() => pool.query('SELECT count(*) FROM orders'))
    const conn = await writer.run(() => pool.getConnection())
    try {
      await writer.run(() => conn.beginTransaction())
      await writer.run(() => conn.query('SELECT * FROM orders WHERE id = 10'))
      await writer.run(() => conn.query('INSERT INTO customers VALUES (3, ?)', ['Cy']))
      // A read in a transaction the policy let begin read-write is part of it: not server-checked.
      await writer.run(() => conn.query('SELECT del_orders()'))
      await writer.run(() => conn.rollback())
    } finally {
      conn.release()
    }
    const [rows] = await admin.query('SELECT count(*) AS n FROM customers')
    expect(rows).toEqual([{ n: 2 }])
    // Outside a transaction, the writer's own read is a read: after its write, the mode is back.
    await writer.run(() => pool.query('UPDATE orders SET total = total WHERE id = 11'))
    const error = await refused(() => writer.run(() => pool.query('SELECT del_orders()')))
    expect(error.rule).toBe('warden:read-only')
  })

  test('a write refused in a read-only transaction names the transaction', async () => {
    const conn = await writer.run(() => pool.getConnection())
    try {
      await writer.run(() => conn.query('START TRANSACTION READ ONLY'))
      const error = await refused(() => writer.run(() => conn.query('DELETE FROM orders WHERE id = 12')))
      expect(error.message).toMatch(/this transaction is read-only/)
      await writer.run(() => conn.query('ROLLBACK'))
      await writer.run(() => conn.query('UPDATE orders SET total = total WHERE id = 12'))
    } finally {
      conn.release()
    }
  })

  test('a failed statement inside a transaction re-reads the state from the server', async () => {
    const conn = await writer.run(() => pool.getConnection())
    try {
      await writer.run(() => conn.beginTransaction())
      await expect(writer.run(() => conn.query('INSERT INTO orders VALUES (10, 1, 1)'))).rejects.toThrow(
        /Duplicate/,
      )
      await writer.run(() => conn.query('ROLLBACK'))
    } finally {
      conn.release()
    }
    const error = await refused(() => asReader('SELECT del_orders()'))
    expect(error.rule).toBe('warden:read-only')
  })
})
