// MariaDB expression, join and statement forms sqlparser cannot read (src/mysql/internal/
// mariadb-expressions.ts, mariadb-joins.ts, mariadb-statements.ts): the facts name every table and
// function of the statement, MariaDB runs each form described as a read inside a read-only
// transaction, and near misses (a call or a query where only words belong) stay `parsed: false`.
// The harness is mariadb-syntax.test.ts's, with a schema of its own.
import { randomBytes } from 'node:crypto'
import { describeMysql } from '@warden/drivers/mysql'
import type { SqlFacts } from '@warden/policy'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADMIN } from './fixtures/mysql-fixture.js'

const DB = `mdbexpr_${randomBytes(3).toString('hex')}`
let conn: mysql.Connection

beforeAll(async () => {
  conn = await mysql.createConnection({ ...ADMIN, multipleStatements: true })
  await conn.query(`CREATE DATABASE \`${DB}\`; USE \`${DB}\``)
  await conn.query(`
    CREATE TABLE t1 (a int, b int, KEY i2 (a)) ENGINE=InnoDB;
    CREATE TABLE t2 (a int, b int) ENGINE=InnoDB;
    CREATE TABLE t3 (a int, b int) ENGINE=InnoDB;
    CREATE TABLE t4 (a int, b int) ENGINE=InnoDB;
    INSERT INTO t1 VALUES (1, 2), (3, 4);`)
})
afterAll(async () => {
  await conn?.query(`DROP DATABASE IF EXISTS \`${DB}\``)
  await conn?.end()
})

/** MariaDB runs `text` in a read-only transaction (errno 1792 would mean it is a write). */
async function serverRunsReadOnly(text: string): Promise<void> {
  await conn.query('SET SESSION TRANSACTION READ ONLY')
  try {
    await conn.query(text)
  } finally {
    await conn.query('ROLLBACK')
    await conn.query('SET SESSION TRANSACTION READ WRITE')
  }
}

type Expected = Partial<Pick<SqlFacts, 'types' | 'reads' | 'functions' | 'write' | 'effects' | 'flags'>>

async function expectFacts(text: string, expected: Expected): Promise<SqlFacts> {
  const f = await describeMysql(text)
  expect(f.parsed, f.error).toBe(true)
  const { effects, flags, reads, functions, ...rest } = expected
  expect(f).toMatchObject(rest)
  if (reads !== undefined) expect([...f.reads].sort()).toEqual([...reads].sort())
  if (functions !== undefined) expect([...f.functions].sort()).toEqual([...functions].sort())
  if (effects !== undefined) expect([...f.effects].sort()).toEqual([...effects].sort())
  if (flags !== undefined) expect([...f.flags].sort()).toEqual([...flags].sort())
  return f
}

const READS: readonly [string, Expected][] = [
  // joins nested without parentheses: the ON after a join closes the innermost one
  ['SELECT * FROM t1 LEFT JOIN t2 LEFT JOIN t3 ON t3.a = t2.a ON t1.a = 1', { reads: ['t1', 't2', 't3'] }],
  [
    'SELECT t1.a FROM t1 LEFT JOIN t2 JOIN t3 LEFT JOIN t4 ON t4.a = t3.a ON t3.b = t2.b ON t1.a = t2.a LEFT JOIN t4 x ON x.a = t1.a',
    { reads: ['t1', 't2', 't3', 't4'] },
  ],
  ['SELECT * FROM t1 WHERE a IN (SELECT t2.a FROM t2 LEFT JOIN t3 JOIN t4 ON t4.a = t3.a ON t3.b != 0)', {}],
  [
    'SELECT * FROM t1 LEFT JOIN ((t2, t3) LEFT JOIN t4 ON t2.a = t4.a) ON t1.a = t2.a',
    { reads: ['t1', 't2', 't3', 't4'] },
  ],
  [
    'SELECT * FROM t1 LEFT JOIN (t2 LEFT JOIN t3 ON t3.a = 1, t4) ON t1.b = t4.b',
    { reads: ['t1', 't2', 't3', 't4'] },
  ],
  ['SELECT * FROM ((t1, t2))', { reads: ['t1', 't2'] }], // the commas of a table list in parentheses: cross joins
  ['SELECT t1.a FROM { OJ t1 LEFT OUTER JOIN t2 ON t1.a = t2.a } WHERE t1.b > 0', { reads: ['t1', 't2'] }],
  // expressions: MOD before a parenthesis, ESCAPE (expr), scalar subqueries in an IN list
  ['SELECT 2 MOD (3 XOR 3), (2 MOD 3) + 1 UNION SELECT a, b FROM t1', { reads: ['t1'] }],
  [
    "SELECT 2 LIKE 1 ESCAPE (3 IN (0, 1)), '' LIKE '' ESCAPE EXPORT_SET(1, 1, 1, 1, '')",
    { functions: ['export_set'] },
  ],
  [
    'SELECT * FROM t1 WHERE a IN ((SELECT MAX(a) FROM t2), (SELECT MIN(b) FROM t3))',
    { reads: ['t1', 't2', 't3'] },
  ],
  // types: words and numbers only
  [
    "SELECT CAST(a AS SIGNED INT), CAST('a' AS CHAR(10) CHARSET utf8mb4 BINARY), CONVERT(-103, CHAR(50) UNICODE) FROM t1",
    { reads: ['t1'] },
  ],
  [
    "SELECT CAST('1:2:3' AS INTERVAL DAY_SECOND(6)) AS i, COLLATION(CAST('a' AS CHAR COLLATE DEFAULT))",
    { functions: ['collation'] },
  ],
  [
    "SELECT HEX(WEIGHT_STRING('ab' AS CHAR(3) LEVEL 1 DESC REVERSE)), HEX(WEIGHT_STRING(a LEVEL 1-2)) FROM t1",
    { reads: ['t1'] },
  ],
  [
    'SELECT GROUP_CONCAT(a ORDER BY b LIMIT 1, 1), GROUP_CONCAT(DISTINCT b LIMIT 1) FROM t1',
    { reads: ['t1'] },
  ],
  ["SELECT TRIM(LEADING FROM ' x'), TRIM(BOTH FROM ' y ')", {}],
  ["SELECT _latin1 0x7E, _utf8mb4 X'7E', _binary B'01111110', \\N", {}],
  ['SELECT a, count(*) FROM t1 GROUP BY a DESC, b ASC', { reads: ['t1'] }],
  ['SET @`a b` := 1, @"c" = (SELECT count(*) FROM t2)', { types: ['SET'], reads: ['t2'] }],
  ['SELECT @`a b`, @"c"', {}],
  [
    'EXPLAIN SELECT a FROM t1 USE INDEX FOR JOIN (i2) IGNORE INDEX FOR GROUP BY (i2) GROUP BY a',
    { reads: ['t1'] },
  ],
  [
    'WITH RECURSIVE c AS (SELECT 1 AS x, 2 AS y UNION SELECT x + 1, y FROM c WHERE x < 3) CYCLE x, y RESTRICT SELECT * FROM c',
    {},
  ],
  ['(SELECT a FROM t1 LIMIT 1) UNION (SELECT a FROM t2) INTO @v', { reads: ['t1', 't2'] }],
  // statement forms
  ['SHOW TRIGGERS FROM mysql WHERE `Table` = (SELECT MAX(a) FROM t1)', { types: ['SHOW'], reads: ['t1'] }],
  ["SHOW KEYS FROM t1 WHERE Key_name = 'i2'", { types: ['SHOW'] }],
  ["SHOW TABLE STATUS WHERE Name IN (SELECT 't1')", { types: ['SHOW'] }],
  ['HELP no_such_topic', { types: ['HELP'] }],
  ['GET DIAGNOSTICS CONDITION 1.1 @v = CLASS_ORIGIN', { types: ['GET DIAGNOSTICS'] }],
  ["GET DIAGNOSTICS CONDITION '1' @v = CLASS_ORIGIN", { types: ['GET DIAGNOSTICS'] }],
  ['SET STATEMENT max_statement_time = 10 FOR DO 1', { types: ['DO'], effects: ['session_config'] }],
  [
    "SET STATEMENT max_statement_time = 10 FOR PREPARE s FROM 'SELECT a FROM t1'",
    { types: ['PREPARE'], reads: ['t1'], flags: ['prepare', 'dynamic_sql'] },
  ],
]

describe('recognized reads: the facts, and MariaDB runs each in a read-only transaction', () => {
  test.each(READS)('%s', async (text, expected) => {
    const f = await expectFacts(text, expected)
    expect(f.write).toBe(false)
    await serverRunsReadOnly(text)
  })
})

describe('recognized, with what the rewrite hides put back (writes, effects, flags)', () => {
  test.each([
    ['SELECT * FROM t1 LEFT JOIN t2 LEFT JOIN t3 ON 1 ON del_orders()', { functions: ['del_orders'] }],
    ['SELECT * FROM (t1, (SELECT del_orders()) x)', { reads: ['t1'], functions: ['del_orders'] }],
    ['SELECT 1 LIKE 2 ESCAPE (SELECT del_orders() FROM t2)', { reads: ['t2'], functions: ['del_orders'] }],
    ['SELECT CAST(nextval(s1) AS SIGNED INT)', { effects: ['sequence'], write: true }],
    ['FLUSH THREADS, SSL', { types: ['FLUSH'], effects: ['server_config'], write: true }],
    ['FLUSH LOCAL USER_STATISTICS', { types: ['FLUSH'], effects: ['server_config'], write: true }],
    ['SHOW EVENTS WHERE del_orders() = 1', { types: ['SHOW'], functions: ['del_orders'] }],
    ['COMMIT AND NO CHAIN RELEASE', { types: ['COMMIT'], effects: ['transaction_control'] }],
    ['ROLLBACK WORK NO RELEASE', { types: ['ROLLBACK'], effects: ['transaction_control'] }],
    ['COMMIT RELEASE; DELETE FROM t1', { types: ['COMMIT', 'DELETE'], write: true }],
    ['SET NAMES utf8mb4 COLLATE DEFAULT', { types: ['SET'], flags: ['lexer_setting'] }],
    [
      'SET STATEMENT max_statement_time = 1 FOR BACKUP LOCK t1',
      { types: ['BACKUP'], effects: ['session_config', 'lock'], write: true },
    ],
    ['SET STATEMENT max_statement_time = 1 FOR FLUSH SSL', { types: ['FLUSH'], write: true }],
    ['SET STATEMENT max_statement_time = 1 FOR EXECUTE s', { flags: ['dynamic_sql'], write: true }],
    ['SET STATEMENT max_statement_time = 1 FOR HANDLER t1 OPEN', { types: ['HANDLER'], flags: ['handler'] }],
  ] as [string, Expected][])('%s', async (text, expected) => {
    await expectFacts(text, expected)
  })
})

describe('near misses stay parsed: false (nothing hidden from the facts)', () => {
  test.each([
    'SELECT * FROM (t1, del_orders())', // a call where a table belongs
    'SELECT CAST(a AS SIGNED del_orders()) FROM t1',
    'SELECT CAST(a AS CHAR(1) CHARSET (SELECT 1)) FROM t1',
    'SELECT CAST(a AS INTERVAL DAY_SECOND(del_orders())) FROM t1',
    'SELECT WEIGHT_STRING(a AS CHAR(del_orders())) FROM t1',
    'SELECT WEIGHT_STRING(a LEVEL (SELECT 1)) FROM t1',
    'SELECT a FROM t1 GROUP BY a DESC del_orders()',
    'SELECT * FROM t1 USE INDEX FOR JOIN del_orders()',
    'WITH RECURSIVE c AS (SELECT 1 AS x) CYCLE (SELECT 1) RESTRICT SELECT * FROM c',
    'WITH RECURSIVE c AS (SELECT 1 AS x) CYCLE x, RESTRICT SELECT * FROM c',
    'FLUSH MASTER',
    'FLUSH SSL, MASTER',
    'FLUSH SSL del_orders()',
    'COMMIT RELEASE NOW',
    'HELP a b',
    'SET NAMES latin1 COLLATE (SELECT 1)',
    'GET DIAGNOSTICS CONDITION 1.(SELECT 1) @v = CLASS_ORIGIN',
    // a prepared text runs under the SET's sql_mode, which the describer does not lex by
    "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR PREPARE s FROM 'SELECT \"a\" FROM t1'",
    'SELECT 1 /*! LEFT JOIN t2 */ FROM t1', // executable comments stay refused wherever they are
    'SELECT _latin1 0x7E /*!, del_orders() */',
  ])('%s', async (text) => {
    const f = await describeMysql(text)
    expect(f.parsed).toBe(false)
    expect(f.write).toBe(true)
  })
})
