// mysql describes the template, not the values (issue 20 part 3): the template's facts are used
// only when the text mysql2 sends is the template with one literal at each bare `?`; otherwise the
// sent text is described (uncached). Against the real MariaDB, through a guarded pool.
import type { Session } from '@warden/core'
import { createPool, type Pool } from '@warden/drivers/mysql'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { queryFacts, templatePlan } from '../../src/mysql/internal/templates.js'
import { formatterFor } from '../../src/mysql/mysql2-internals.js'
import { type Fixture, openFixture } from './fixtures/mysql-fixture.js'

let fx: Fixture
let session: Session
let pool: Pool

beforeAll(async () => {
  fx = await openFixture('templ')
  session = await fx.session()
  pool = createPool(session, { resource: 'shop', host: '127.0.0.1', database: fx.db, connectionLimit: 2 })
})
afterAll(async () => {
  await pool?.end()
  await fx?.close()
})

const lastCommand = () => fx.audit.records.filter((r) => r.type === 'command').at(-1)

describe('query(sql, values) through the pool', () => {
  test('a plain template: right rows, facts and record show the template', async () => {
    for (const id of [1, 2]) {
      const [rows] = await pool.query('SELECT name FROM customers WHERE id = ?', [id])
      expect(rows).toEqual([{ name: id === 1 ? 'Ada' : 'Bob' }])
      const record = lastCommand()
      expect(record?.command).toBe('SELECT name FROM customers WHERE id = ?')
      expect(record?.facts).toMatchObject({
        text: 'SELECT name FROM customers WHERE id = ?',
        reads: ['customers'],
      })
    }
  })

  test('a ? inside a string or a comment is not a placeholder, for mysql2 and for the facts', async () => {
    const [rows] = await pool.query("SELECT '?' AS q, /* ? */ name FROM customers WHERE id = ?", [2])
    expect(rows).toEqual([{ q: '?', name: 'Bob' }])
    expect(lastCommand()?.decision?.effect).toBe('allow')
  })

  test('?? (an identifier from a value): the sent text is described, so its table is in the facts', async () => {
    const [rows] = await pool.query('SELECT id FROM ?? WHERE id = ?', ['customers', 1])
    expect(rows).toEqual([{ id: 1 }])
    const record = lastCommand()
    expect(record?.facts).toMatchObject({ text: 'SELECT id FROM ?? WHERE id = ?', reads: ['customers'] })
  })

  test('a raw toSqlString value is SQL: the sent text is described (reads what it reads, masked)', async () => {
    const raw = { toSqlString: () => '(SELECT email FROM customers WHERE id = 1)' }
    const [rows] = await pool.query('SELECT ? AS v', [raw])
    expect(rows).toEqual([{ v: '[redacted]' }])
    expect(lastCommand()?.facts).toMatchObject({ text: 'SELECT ? AS v', reads: ['customers'] })
  })

  test('an object value becomes assignments: the sent text is described', async () => {
    const [result] = await pool.query('UPDATE orders SET ? WHERE id = ?', [{ note: 'set' }, 10])
    expect((result as { affectedRows: number }).affectedRows).toBe(1)
    expect(lastCommand()?.facts).toMatchObject({ types: ['UPDATE'], writes: ['orders'] })
  })

  test('a value that merges with the token before its ? (1? + 0 is 10): the sent text is described', async () => {
    const [rows] = await pool.query('SELECT id FROM orders WHERE id = 1?', [0])
    expect(rows).toEqual([{ id: 10 }])
    expect(lastCommand()?.decision?.effect).toBe('allow')
  })

  test('a list value (IN (?)) keeps the template facts and runs as a list', async () => {
    const [rows] = await pool.query('SELECT id FROM orders WHERE id IN (?) ORDER BY id', [[10, 12]])
    expect(rows).toEqual([{ id: 10 }, { id: 12 }])
  })

  test('a DELETE whose value looks like SQL stays bounded: the value is a literal', async () => {
    const [result] = await pool.query('DELETE FROM orders WHERE note = ?', ["x' OR '1'='1"])
    expect((result as { affectedRows: number }).affectedRows).toBe(0)
    const [rows] = await pool.query('SELECT count(*) AS n FROM orders')
    expect(rows).toEqual([{ n: 3 }])
  })

  test('no value reaches the audit record', async () => {
    await pool.query('SELECT name FROM customers WHERE email = ?', ['canary-value-7f3a'])
    expect(JSON.stringify(fx.audit.records)).not.toContain('canary-value-7f3a')
  })
})

describe('template plans', () => {
  const formatter = formatterFor({})
  const resolve = (sql: string, values: unknown[]) => formatter.resolveQuery({ sql, values } as never)

  test('distinct values share one frozen facts object that holds none of them', async () => {
    const client = {}
    const sql = 'SELECT name FROM customers WHERE id = ? AND email = ?'
    const a = await queryFacts(client, formatter, resolve(sql, [1, 'secret-one']), sql)
    const b = await queryFacts(client, formatter, resolve(sql, [2, 'secret-two']), sql)
    expect(b).toBe(a)
    expect(Object.isFrozen(a)).toBe(true)
    expect(JSON.stringify(a)).not.toMatch(/secret/)
  })

  test('a text not described by its template is not cached: a new object each time', async () => {
    const client = {}
    const sql = 'SELECT id FROM ?? WHERE id = ?'
    const a = await queryFacts(client, formatter, resolve(sql, ['orders', 1]), sql)
    const b = await queryFacts(client, formatter, resolve(sql, ['orders', 1]), sql)
    expect(a).not.toBe(b)
    expect(a.reads).toEqual(['orders'])
    expect(a.text).toBe(sql)
  })

  test("one client's templates never evict another's", async () => {
    const quiet = {}
    const busy = {}
    const sql = 'SELECT id FROM orders WHERE id = ?'
    const plan = await templatePlan(quiet, sql)
    // past what one client holds (2 generations of 500)
    for (let i = 0; i < 1100; i++) await templatePlan(busy, `SELECT id FROM orders WHERE id = ${i}`)
    expect(await templatePlan(quiet, sql)).toBe(plan)
  })

  test('marks are the bare ? tokens; ??, neighbours that merge and dynamic SQL turn the template path off', async () => {
    const c = {}
    const sql = "SELECT '?', ? /* ? */ FROM t WHERE a = ?"
    const p = await templatePlan(c, sql)
    expect(p.marks).toEqual([sql.indexOf(', ?') + 2, sql.length - 1])
    expect(p.literalsKeepFacts).toBe(true)
    expect((await templatePlan(c, 'SELECT ?? FROM t')).literalsKeepFacts).toBe(false)
    expect((await templatePlan(c, 'SELECT a FROM t WHERE id = 1?')).literalsKeepFacts).toBe(false)
    expect((await templatePlan(c, 'SELECT a FROM t WHERE id = -?')).literalsKeepFacts).toBe(false)
    expect((await templatePlan(c, 'PREPARE s FROM ?')).literalsKeepFacts).toBe(false)
  })
})
