// MariaDB syntax sqlparser cannot read, recognized narrowly (src/mysql/internal/mariadb-syntax.ts):
// each form's facts name the same tables, functions, type and write as the statement, MariaDB itself
// runs every form described as a read inside a read-only transaction (so the two agree it is a
// read), and near misses (anything that could hide a table, a function or a second statement) stay
// `parsed: false`. Measured over MariaDB's own mysql-test suite by bench/mysql/corpus.ts.
import { randomBytes } from 'node:crypto'
import { describeMysql } from '@warden/drivers/mysql'
import type { SqlFacts } from '@warden/policy'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADMIN } from './fixtures/mysql-fixture.js'

const DB = `mdbsyn_${randomBytes(3).toString('hex')}`
let conn: mysql.Connection

beforeAll(async () => {
  conn = await mysql.createConnection({ ...ADMIN, multipleStatements: true })
  await conn.query(`CREATE DATABASE \`${DB}\`; USE \`${DB}\``)
  await conn.query(`
    CREATE TABLE t1 (id int PRIMARY KEY, a varchar(20), d datetime, str blob, FULLTEXT (a)) ENGINE=MyISAM;
    CREATE TABLE t2 (id int PRIMARY KEY) ENGINE=InnoDB;
    INSERT INTO t1 VALUES (1, 'apple', '2026-01-01', COLUMN_CREATE(1, 'x')), (2, 'pear', NULL, NULL);
    CREATE SEQUENCE s1;
    CREATE VIEW v1 AS SELECT id FROM t1;`)
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

type Expected = Partial<Pick<SqlFacts, 'types' | 'reads' | 'writes' | 'functions' | 'write'>> & {
  effects?: string[]
  flags?: string[]
}

function expectFacts(f: SqlFacts, expected: Expected): void {
  expect(f.parsed, f.error).toBe(true)
  const { effects, flags, ...rest } = expected
  expect(f).toMatchObject(rest)
  if (effects !== undefined) expect([...f.effects].sort()).toEqual([...effects].sort())
  if (flags !== undefined) expect([...f.flags].sort()).toEqual([...flags].sort())
}

const READS: readonly [string, Expected][] = [
  // table commands
  ['CHECK TABLE t1, t2 EXTENDED', { types: ['CHECK'], reads: ['t1', 't2'], write: false }],
  ['CHECKSUM TABLE t1 QUICK', { types: ['CHECKSUM'], reads: ['t1'], write: false }],
  ['ANALYZE TABLE t1', { types: ['ANALYZE'], reads: ['t1'], write: false }],
  // ANALYZE stmt runs stmt: its facts are stmt's
  ['ANALYZE SELECT * FROM t1 WHERE id = 1', { types: ['SELECT'], reads: ['t1'], write: false }],
  ['ANALYZE FORMAT=JSON SELECT id FROM t1', { types: ['SELECT'], reads: ['t1'], write: false }],
  ['EXPLAIN EXTENDED SELECT * FROM t1 JOIN t2 USING (id)', { reads: ['t1', 't2'], write: false }],
  ['EXPLAIN PARTITIONS SELECT * FROM t1', { reads: ['t1'], write: false }],
  ['SELECT a, count(*) FROM t1 GROUP BY a WITH ROLLUP', { types: ['SELECT'], reads: ['t1'], write: false }],
  ['SELECT * FROM t1 LIMIT ROWS EXAMINED 10', { reads: ['t1'], write: false }],
  ['SELECT * FROM t1 LIMIT 1 ROWS EXAMINED 10', { reads: ['t1'], write: false }],
  ['SELECT PREVIOUS VALUE FOR s1', { functions: ['lastval'], effects: ['sequence'], write: false }],
  ['SET @v := (SELECT count(*) FROM t1)', { types: ['SET'], reads: ['t1'], write: false }],
  [
    'SET STATEMENT max_statement_time = 10 FOR SELECT * FROM t1',
    { types: ['SELECT'], reads: ['t1'], effects: ['session_config'], write: false },
  ],
  ['DO 1 + 1', { types: ['DO'], write: false }],
  ["HELP 'contents'", { types: ['HELP'], write: false }],
  ['START TRANSACTION WITH CONSISTENT SNAPSHOT', { effects: ['transaction_control'], write: false }],
  [
    "PREPARE s FROM 'SELECT * FROM t1 WHERE id = ?'",
    { types: ['PREPARE'], reads: ['t1'], write: false, flags: ['prepare', 'dynamic_sql'] },
  ],
  // dynamic columns: `AS type` inside COLUMN_GET / COLUMN_CREATE / COLUMN_ADD
  [
    'SELECT COLUMN_GET(str, 1 AS CHAR CHARACTER SET latin1 COLLATE DEFAULT) AS c1 FROM t1',
    { reads: ['t1'], functions: ['column_get'], write: false },
  ],
  [
    "SELECT hex(COLUMN_ADD(COLUMN_CREATE(1, 1212 AS integer), 2, 'x' AS char)) AS e",
    { functions: ['hex', 'column_add', 'column_create'], write: false },
  ],
  ['SELECT COLUMN_GET(str, 1 AS DECIMAL(10, 2)) FROM t1', { reads: ['t1'], write: false }],
  // GET DIAGNOSTICS reads the diagnostics area into user variables
  ['GET DIAGNOSTICS @n = NUMBER', { types: ['GET DIAGNOSTICS'], write: false }],
  ['GET CURRENT DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT, @e = MYSQL_ERRNO', { types: ['GET DIAGNOSTICS'] }],
  // SHOW CREATE of what the parser does not know
  [`SHOW CREATE DATABASE ${DB}`, { types: ['SHOW'], write: false }],
  [`SHOW CREATE SCHEMA IF NOT EXISTS \`${DB}\``, { types: ['SHOW'], write: false }],
  ['SHOW CREATE SEQUENCE s1', { types: ['SHOW'], write: false }],
  // MATCH without parentheses, INTERVAL(), compound interval units, CHAR(… USING), SELECT … INTO @v
  ["SELECT count(*) FROM t1 WHERE MATCH a AGAINST ('apple')", { reads: ['t1'], write: false }],
  ["SELECT id FROM t1 WHERE MATCH t1.a AGAINST ('apple' IN BOOLEAN MODE)", { reads: ['t1'], write: false }],
  ['SELECT INTERVAL(13, 7, 14, 21) AS i', { functions: ['interval'], write: false }],
  ['SELECT DATE_ADD(d, INTERVAL (1) DAY) FROM t1', { reads: ['t1'], functions: ['date_add'], write: false }],
  [
    "SELECT DATE_ADD(d, INTERVAL '0 00:00:01.5' DAY_MICROSECOND), d + INTERVAL '1:1' HOUR_MINUTE FROM t1",
    { reads: ['t1'], functions: ['date_add'], write: false },
  ],
  [
    "SELECT DATE_SUB('2026-01-01', INTERVAL '1-2' YEAR_MONTH) AS x",
    { functions: ['date_sub'], write: false },
  ],
  ['SELECT hex(char(0x41, 0x42 USING utf8mb4)) AS c', { functions: ['hex', 'char'], write: false }],
  ['SELECT a FROM t1 GROUP BY a LIMIT 1 INTO @v', { reads: ['t1'], write: false }],
  ["SELECT DISTINCT id, a INTO @v1, @v2 FROM t1 WHERE a = 'apple'", { reads: ['t1'], write: false }],
  ['UNLOCK TABLE', { types: ['UNLOCK'], effects: ['lock'], write: false }],
  ['SHOW CREATE USER CURRENT_USER', { types: ['SHOW'], write: false }],
  // a parenthesized list of tables: cross joins
  ['SELECT * FROM t1 LEFT JOIN (t2, t1 AS x) ON t1.id = 0', { reads: ['t1', 't2'], write: false }],
  ['SELECT count(*) FROM ( t2 )', { reads: ['t2'], write: false }],
  ['SELECT * FROM ((t1 x)) WHERE x.id > 0', { reads: ['t1'], write: false }],
  // operators the parser does not know, and a character set in a cast
  ['SELECT id MOD 2, 7 MOD 3 AS m FROM t1', { reads: ['t1'], write: false }],
  ["SELECT a SOUNDS LIKE 'appel' FROM t1", { reads: ['t1'], write: false }],
  ['SELECT !0, ! (id = 1), id != 1 FROM t1', { reads: ['t1'], write: false }],
  [
    'SELECT CAST(a AS CHAR(10) CHARACTER SET latin1), CAST(a AS CHAR CHARACTER SET utf8mb4) FROM t1',
    { reads: ['t1'], write: false },
  ],
  // MyISAM key caches (server state)
  [
    'CACHE INDEX t1, t2 IN `default`',
    { types: ['CACHE INDEX'], reads: ['t1', 't2'], effects: ['server_config'], write: false },
  ],
  [
    'LOAD INDEX INTO CACHE t1 KEY (`PRIMARY`) IGNORE LEAVES, t2',
    { types: ['LOAD INDEX'], reads: ['t1', 't2'], effects: ['server_config'], write: false },
  ],
  ['CHECK VIEW v1 FOR UPGRADE', { types: ['CHECK'], reads: ['v1'], write: false }],
  ['ANALYZE FORMAT=JSON VALUES (1, 2)', { types: ['SELECT'], write: false }],
  ['FLUSH QUERY CACHE', { types: ['FLUSH'], effects: ['server_config'], write: false }],
  ['RESET QUERY CACHE', { types: ['RESET'], effects: ['server_config'], write: false }],
  ["PREPARE p1 FROM 'SELECT 1'", { types: ['PREPARE'] }],
  ['DROP PREPARE p1', { types: ['DEALLOCATE'], write: false }],
  ["SHOW CREATE USER 'root'@'localhost'", { types: ['SHOW'], write: false }],
  // HANDLER (flagged `handler`): open, read by position, close; in this order on one connection
  ['HANDLER t1 OPEN', { types: ['HANDLER'], reads: ['t1'], flags: ['handler'], write: false }],
  ['HANDLER t1 READ FIRST', { types: ['HANDLER'], reads: ['t1'], flags: ['handler'], write: false }],
  ['HANDLER t1 READ `PRIMARY` NEXT LIMIT 1', { types: ['HANDLER'], reads: ['t1'], write: false }],
  ['HANDLER t1 CLOSE', { types: ['HANDLER'], reads: ['t1'], write: false }],
]

describe('recognized reads: the facts, and MariaDB runs each in a read-only transaction', () => {
  test.each(READS)('%s', async (text, expected) => {
    const f = await describeMysql(text)
    expectFacts(f, expected)
    expect(f.write).toBe(false)
    await serverRunsReadOnly(text)
  })
})

describe('recognized, and described as writes or with an effect (what the rewrite hides is put back)', () => {
  test.each([
    ['SELECT NEXT VALUE FOR s1', { functions: ['nextval'], effects: ['sequence'], write: true }],
    ['SELECT * FROM t1 LOCK IN SHARE MODE', { reads: ['t1'], effects: ['lock'], write: true }],
    ['LOCK TABLE t1 READ', { effects: ['lock'], write: true }],
    ['OPTIMIZE TABLE t1', { types: ['OPTIMIZE'], writes: ['t1'], write: true }],
    ['REPAIR NO_WRITE_TO_BINLOG TABLE t1 QUICK', { types: ['REPAIR'], writes: ['t1'], write: true }],
    ['ANALYZE TABLE t1 PERSISTENT FOR ALL', { types: ['ANALYZE'], write: true }],
    ['ANALYZE UPDATE t1 SET a = 1 WHERE id = 1', { types: ['UPDATE'], writes: ['t1'], write: true }],
    ['DO nextval(s1)', { types: ['DO'], effects: ['sequence'], write: true }],
    ['DO GET_LOCK("x", 0)', { types: ['DO'], effects: ['advisory_lock'] }],
    ['SET @v := 1, tx_read_only = 0', { write: true }],
    ['SET STATEMENT tx_read_only = 0 FOR SELECT * FROM t1', { reads: ['t1'], write: true }],
    ['START TRANSACTION WITH CONSISTENT SNAPSHOT, READ WRITE', { write: true }],
    ["PREPARE s FROM 'DELETE FROM t1 WHERE id = 1'", { types: ['PREPARE'], writes: ['t1'], write: true }],
    // a prepared statement that is itself recognized keeps what its recognizer put back
    ['PREPARE s FROM "OPTIMIZE TABLE t1, t2"', { types: ['PREPARE'], writes: ['t1', 't2'], write: true }],
    ['PREPARE s FROM "ANALYZE TABLE t1"', { types: ['PREPARE'], reads: ['t1'], write: false }],
    [
      "PREPARE s FROM 'SELECT NEXT VALUE FOR s1'",
      { functions: ['nextval'], effects: ['sequence'], write: true },
    ],
    ["PREPARE s FROM 'BACKUP STAGE START'", { effects: ['lock'], write: true }],
    [
      "PREPARE s FROM 'SELECT * FROM t1 INTO OUTFILE ''/tmp/x'''",
      { reads: ['t1'], effects: ['server_file'], write: true },
    ],
    ['FLUSH TABLE t1', { types: ['FLUSH'], effects: ['server_config'], write: true }],
    // XA: transaction control (the driver reads the state back after each)
    ["XA START 'a', 'b', 1", { types: ['XA'], effects: ['transaction_control'], write: false }],
    ["XA END 'a', 'b', 1 SUSPEND", { types: ['XA'], effects: ['transaction_control'] }],
    ["XA COMMIT 'x' ONE PHASE", { types: ['XA'], effects: ['transaction_control'] }],
    ["XA RECOVER FORMAT='SQL'", { types: ['XA'], effects: ['transaction_control'] }],
    ["SELECT 1; XA START 'x'", { types: ['SELECT', 'XA'], write: true }], // transaction control in multi-statement text
    // MariaDB's backup locks block DDL or every commit on the server
    ['BACKUP STAGE START', { types: ['BACKUP'], effects: ['lock'], write: true }],
    ['BACKUP STAGE BLOCK_COMMIT', { types: ['BACKUP'], effects: ['lock'], write: true }],
    ['BACKUP LOCK t1', { types: ['BACKUP'], reads: ['t1'], effects: ['lock'], write: true }],
    ['BACKUP UNLOCK', { types: ['BACKUP'], effects: ['lock'], write: true }],
    // INTO OUTFILE/DUMPFILE writes a file on the server: a read-only transaction does not stop it
    [
      "SELECT a, id INTO OUTFILE '/tmp/x.txt' FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' FROM t1",
      { reads: ['t1'], effects: ['server_file'], flags: ['into_outfile'], write: true },
    ],
    ["SELECT * FROM t1 INTO DUMPFILE '/tmp/x'", { reads: ['t1'], effects: ['server_file'], write: true }],
    [
      'SET NAMES utf8mb4 COLLATE utf8mb4_bin, @a = (SELECT count(*) FROM t1)',
      { types: ['SET'], reads: ['t1'], effects: ['session_config'], flags: ['lexer_setting'] },
    ],
    ['SET NAMES latin1, tx_read_only = 0', { write: true, flags: ['lexer_setting'] }],
    ["SET CHARACTER SET 'latin1'", { types: ['SET'], effects: ['session_config'], flags: ['lexer_setting'] }],
    ['FLUSH TABLE t1, t2 WITH READ LOCK', { types: ['FLUSH'], effects: ['server_config', 'lock'] }],
    ['SELECT nextval(s1) INTO @v', { functions: ['nextval'], effects: ['sequence'], write: true }],
    ['SELECT * FROM t1 WHERE id = 1 INTO @v FOR UPDATE', { effects: ['lock'], write: true }],
    ['SELECT del_orders() INTO @v', { functions: ['del_orders'] }], // the read-only mode covers it
    [
      'SELECT COLUMN_GET(str, 1 AS INT), nextval(s1) FROM t1',
      { functions: ['column_get', 'nextval'], write: true },
    ],
  ] as [string, Expected][])('%s', async (text, expected) => {
    expectFacts(await describeMysql(text), expected)
  })
})

describe('near misses stay parsed: false (nothing hidden from the facts)', () => {
  test.each([
    // a dynamic column type is words and numbers only: never a query or a call
    'SELECT COLUMN_GET(str, 1 AS (SELECT 1)) FROM t1',
    'SELECT COLUMN_GET(str, 1 AS CHAR(SELECT 1)) FROM t1',
    'SELECT COLUMN_GET(str, 1 AS INT del_orders(5)) FROM t1',
    'SELECT COLUMN_GET(str, 1 AS INT(del_orders())) FROM t1',
    'GET DIAGNOSTICS CONDITION (SELECT 1) @a = MESSAGE_TEXT',
    'GET DIAGNOSTICS @a = (SELECT count(*) FROM t1)',
    'GET DIAGNOSTICS a = NUMBER, ',
    'SHOW CREATE DATABASE db1 (SELECT 1)',
    'SHOW CREATE SEQUENCE s1, t1',
    'SELECT a FROM t1 INTO @x, ',
    "SELECT a FROM t1 INTO @x, OUTFILE '/tmp/x'",
    'CHECK TABLE t1 WHERE 1',
    'CHECK TABLE (SELECT 1)',
    'CHECKSUM TABLE t1, del_orders()',
    "PREPARE s FROM 'SELECT 1; DROP TABLE t1'",
    "PREPARE s FROM 'SELECT /*! 1 */'",
    "PREPARE s FROM 'SET STATEMENT max_statement_time = 1 FOR DELETE FROM t1'",
    'PREPARE s FROM @q',
    "HELP 'x' 'y'",
    'SET STATEMENT max_statement_time = 1 SELECT 1',
    // executable comments stay refused wherever they are
    'SELECT COLUMN_GET(str, 1 AS /*! INT) , del_orders( */ INT) FROM t1',
    "SELECT count(*) FROM t1 WHERE MATCH a /*!AGAINST*/ ('x')",
    'SELECT a FROM t1 INTO /*! @x */',
    'BACKUP STAGE START, END',
    'BACKUP LOCK t1, t2',
    'HANDLER t1 READ a = (1)', // key values may be expressions: not recognized
    'HANDLER t1 READ FIRST WHERE del_orders() > 0',
    'HANDLER t1 OPEN AS h extra',
    'SHOW CREATE USER u1, u2',
    'SET CHARACTER SET latin1, @a = (SELECT 1)',
    "SELECT * FROM t1 INTO OUTFILE '/tmp/x' FIELDS TERMINATED BY (SELECT del_orders())",
    "SELECT * FROM t1 INTO OUTFILE '/tmp/x' LINES TERMINATED BY del_orders()",
    'CHECK VIEW v1 EXTENDED',
    'SELECT CAST(a AS CHAR CHARACTER SET (SELECT 1)) FROM t1',
    'SELECT * FROM ((SELECT del_orders()) x)',
    // PROCEDURE ANALYSE returns column values in rows of its own (no column origin to mask by)
    'SELECT * FROM t1 PROCEDURE ANALYSE()',
    "XA START 'x' READ WRITE",
    'XA START @x',
    "XA COMMIT 'x' ONE",
    "XA ROLLBACK 'x', (SELECT 1)",
    'SELECT * FROM (t1, del_orders())',
    'CACHE INDEX t1 IN (SELECT 1)',
    'LOAD INDEX INTO CACHE t1 WHERE del_orders()',
    'LOAD INDEX INTO CACHE t1 KEY (del_orders())',
    'DROP PREPARE p1, p2',
    'SET NAMES latin1,',
  ])('%s', async (text) => {
    const f = await describeMysql(text)
    expect(f.parsed).toBe(false)
    expect(f.write).toBe(true)
  })
})

// Built-in functions checked against MariaDB 10.11's function list (mysql.help_topic): those with an
// effect the read-only mode lets through are named; those refused there are writes; the rest stay plain.
describe('built-in functions: the server as the oracle', () => {
  const LET_THROUGH: readonly [string, string[]][] = [
    ["SELECT GET_LOCK('mdbsyn14', 0), RELEASE_LOCK('mdbsyn14')", ['advisory_lock']],
    ['SELECT RELEASE_ALL_LOCKS()', ['advisory_lock']],
    ["SELECT LOAD_FILE('/etc/hostname')", ['server_file']],
    ['SELECT LASTVAL(s1)', ['sequence']],
    // Reviewed, no effect: they look at locks or wait.
    ["SELECT IS_FREE_LOCK('mdbsyn14'), IS_USED_LOCK('mdbsyn14')", []],
    ['SELECT SLEEP(0), BENCHMARK(1, 1)', []],
    ["SELECT MASTER_POS_WAIT('none-bin.000001', 4, 0), MASTER_GTID_WAIT('0-1-1', 0)", []],
  ]
  test.each(LET_THROUGH)('%s runs read-only, effects %j', async (text, effects) => {
    try {
      await serverRunsReadOnly(text)
    } finally {
      await conn.query('SELECT RELEASE_ALL_LOCKS()')
    }
    const f = await describeMysql(text)
    expectFacts(f, { effects, write: false })
  })

  test.each(['SELECT NEXTVAL(s1)', 'SELECT SETVAL(s1, 10)'])(
    '%s is refused read-only and is a write',
    async (text) => {
      await expect(serverRunsReadOnly(text)).rejects.toMatchObject({ errno: 1792 })
      expectFacts(await describeMysql(text), { effects: ['sequence'], write: true })
    },
  )

  test('Spider UDFs run SQL on a remote server: remote, a write (the plugin is not installed here)', async () => {
    for (const name of ['SPIDER_DIRECT_SQL', 'spider_bg_direct_sql'])
      expectFacts(await describeMysql(`SELECT ${name}('DELETE FROM t', 't', 'srv "s"')`), {
        effects: ['remote'],
        write: true,
      })
  })
})
