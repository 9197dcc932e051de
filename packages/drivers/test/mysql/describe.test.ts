import { describeMysql, MAX_MYSQL_STATEMENT_LENGTH } from '@warden/drivers/mysql'
import type { SqlFacts } from '@warden/policy'
import { describe, expect, test } from 'vitest'

const facts = async (text: string): Promise<SqlFacts> => await describeMysql(text)

describe('describeMysql: classification', () => {
  const cases: [string, Partial<SqlFacts>][] = [
    [
      'SELECT * FROM users',
      { types: ['SELECT'], reads: ['users'], writes: [], write: false, unbounded: false, parsed: true },
    ],
    ['select `id` from `Orders` AS o where o.id = 1', { types: ['SELECT'], reads: ['orders'], write: false }],
    ['SELECT * FROM shop.orders', { tables: ['shop.orders'] }],
    ['SELECT a FROM x WHERE id IN (SELECT id FROM y)', { reads: ['x', 'y'] }],
    ['SELECT * FROM t1 JOIN (SELECT * FROM t2) d ON 1', { reads: ['t1', 't2'] }],
    ['WITH c AS (SELECT * FROM src) SELECT * FROM c', { reads: ['src'] }],
    // A CTE name shadows a table only inside its own query; elsewhere the name is the table.
    [
      'SELECT ssn FROM customers WHERE id IN (WITH customers AS (SELECT 1 AS id) SELECT id FROM customers)',
      { reads: ['customers'], tables: ['customers'] },
    ],
    ['WITH customers AS (SELECT * FROM customers) SELECT * FROM customers', { reads: ['customers'] }],
    ['WITH a AS (SELECT 1 AS x), b AS (SELECT * FROM a) SELECT * FROM b', { reads: [] }],
    [
      'WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r',
      { reads: [] },
    ],
    ['WITH b AS (SELECT * FROM a), a AS (SELECT 1 AS x) SELECT * FROM b', { reads: ['a'] }],
    ['SELECT * FROM db.c, (WITH c AS (SELECT 1) SELECT * FROM c) AS d', { reads: ['db.c'] }],
    ['SELECT count(*), UPPER(name), db.f(x) FROM t', { functions: ['count', 'upper', 'db.f'] }],
    ['INSERT INTO t (a) VALUES (1)', { types: ['INSERT'], writes: ['t'], reads: [], write: true }],
    ['REPLACE INTO t VALUES (1)', { types: ['REPLACE'], writes: ['t'] }],
    ['INSERT INTO t (a) SELECT ssn FROM customers', { writes: ['t'], reads: ['customers'] }],
    ['INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 2', { types: ['INSERT'], unbounded: false }],
    ['UPDATE t SET a = 1 WHERE id = 2', { types: ['UPDATE'], writes: ['t'], unbounded: false }],
    ['UPDATE t SET a = 1', { unbounded: true, write: true }],
    ['UPDATE t SET a = 1 LIMIT 1', { unbounded: true }],
    ['UPDATE a JOIN b ON a.id = b.id SET a.x = b.y WHERE b.z = 1', { writes: ['a', 'b'], unbounded: false }],
    ['DELETE FROM t WHERE id = 1', { types: ['DELETE'], writes: ['t'], unbounded: false }],
    ['DELETE FROM t', { types: ['DELETE'], writes: ['t'], unbounded: true }],
    ['DELETE FROM t ORDER BY id LIMIT 1', { unbounded: true }],
    [
      'DELETE a1 FROM t1 AS a1 JOIN t2 ON a1.id = t2.id WHERE t2.z = 1',
      { writes: ['t1'], reads: ['t2'], unbounded: false },
    ],
    ['DELETE FROM a USING a JOIN b WHERE a.x = b.x', { writes: ['a'], reads: ['a', 'b'] }],
    ['DROP TABLE x, y', { types: ['DROP'], writes: ['x', 'y'], write: true }],
    ['TRUNCATE TABLE t', { types: ['TRUNCATE'], writes: ['t'] }],
    ['CREATE TABLE t2 AS SELECT * FROM t', { types: ['CREATE'], writes: ['t2'], reads: ['t'] }],
    ['ALTER TABLE t ADD c INT', { types: ['ALTER'], writes: ['t'] }],
    ['RENAME TABLE a TO b', { types: ['RENAME'], writes: ['a', 'b'] }],
    ['CALL purge_all(1)', { types: ['CALL'], functions: ['purge_all'], write: true }],
    ['SHOW TABLES', { types: ['SHOW'], write: false }],
    ['DESCRIBE t', { types: ['DESCRIBE'], reads: ['t'], write: false }],
    ['BEGIN', { types: ['BEGIN'], write: false }],
    ['SET autocommit = 1', { types: ['SET'], flags: [], write: false }],
    ['GRANT SELECT ON db.* TO u', { types: ['GRANT'], write: true }],
    ['EXECUTE stmt USING @a', { types: ['EXECUTE'], flags: ['dynamic_sql'], write: true }],
    ['EXPLAIN DELETE FROM t', { types: ['EXPLAIN'], writes: ['t'], unbounded: true }],
    [
      'SELECT 1; DROP TABLE x',
      { types: ['SELECT', 'DROP'], writes: ['x'], flags: ['multi_statement'], write: true },
    ],
    ['SELECT 1;;', { types: ['SELECT'], flags: [] }],
    ['SELECT /*+ MAX_EXECUTION_TIME(10) */ 1', { types: ['SELECT'], parsed: true }],
    ['SELECT ? FROM t WHERE id = ?', { types: ['SELECT'], parsed: true }],
  ]
  test.each(cases)('%s', async (text, expected) => {
    const f = await facts(text)
    expect(f.error).toBe('')
    expect(f).toMatchObject({ parsed: true, ...expected })
    expect(f.text).toBe(text)
    expect(f.statements.map((s) => s.type)).toEqual(f.types)
  })

  test('where is false only on an UPDATE/DELETE without WHERE', async () => {
    expect((await facts('DELETE FROM t')).statements[0]?.where).toBe(false)
    expect((await facts('DELETE FROM t WHERE 1')).statements[0]?.where).toBe(true)
    expect((await facts('SELECT 1')).statements[0]?.where).toBe(true)
  })
})

describe('describeMysql: guards', () => {
  const flagged: [string, string, boolean][] = [
    // text, flag, parses
    ["LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t", 'load_data', false],
    ["LOAD DATA INFILE 'x.csv' INTO TABLE t", 'load_data', false],
    ["LOAD XML INFILE 'x.xml' INTO TABLE t", 'load_data', false],
    ["SELECT * FROM t INTO OUTFILE '/tmp/x'", 'into_outfile', true], // recognized: effect server_file, a write
    ["SELECT a INTO DUMPFILE '/tmp/x' FROM t", 'into_outfile', true],
    ['HANDLER t OPEN', 'handler', true], // recognized (mariadb-syntax.ts), flagged all the same
    ["PREPARE s FROM 'DROP TABLE t'", 'prepare', true], // described as what it prepares
    ['PREPARE s FROM @q', 'dynamic_sql', false],
    ["EXECUTE IMMEDIATE 'DROP TABLE t'", 'dynamic_sql', true],
    ["SET sql_mode = 'NO_BACKSLASH_ESCAPES'", 'lexer_setting', true],
    ["SET @@sql_mode = 'ANSI_QUOTES'", 'lexer_setting', true],
    ["SET SESSION sql_mode = ''", 'lexer_setting', true],
    ["SET GLOBAL sql_mode = ''", 'lexer_setting', true],
    ["SET @@session.SQL_MODE = ''", 'lexer_setting', true],
    ["SET @@local.sql_mode = ''", 'lexer_setting', true],
    ["SET @a = 1, sql_mode = ''", 'lexer_setting', true],
    ["SET sql_mode := ''", 'lexer_setting', true],
    ["SET PERSIST sql_mode = ''", 'lexer_setting', false],
    ["SET STATEMENT sql_mode = '' FOR SELECT 1", 'lexer_setting', true],
    ['SET NAMES gbk', 'lexer_setting', true],
    ['SET CHARACTER SET gbk', 'lexer_setting', true],
    ['SET character_set_client = gbk', 'lexer_setting', true],
  ]
  test.each(flagged)('%s → %s', async (text, flag, parses) => {
    const f = await facts(text)
    expect(f.flags).toContain(flag)
    expect(f.parsed).toBe(parses)
    if (!parses) {
      expect(f.write).toBe(true) // `!sql.write` can never allow unreadable text
      expect(f.error).not.toBe('')
    }
  })

  const executable = [
    '/*!DROP TABLE users*/',
    'DELETE FROM users /*!99999 WHERE id = 1 */',
    'SELECT 1 /*!50000 , (SELECT password FROM mysql.user) */',
    'SELECT 1 /*M!100000 + 1 */',
    'SELECT 1 /*m!100000 + 1 */',
    'SELECT 1; /*!DROP TABLE t*/',
  ]
  test.each(executable)('executable comment is refused: %s', async (text) => {
    const f = await facts(text)
    expect(f).toMatchObject({ parsed: false, flags: ['executable_comment'], statements: [], write: true })
    expect(f.error).toMatch(/executable comment/)
  })

  const notExecutable = [
    "SELECT '/*!DROP TABLE t*/'",
    'SELECT `/*!x*/` FROM t',
    'SELECT 1 # /*! DROP TABLE t */',
    'SELECT 1 -- /*! DROP TABLE t */',
    'SELECT 1 /* plain /*! not code inside a comment */',
  ]
  test.each(notExecutable)('comment-like text in strings and comments is not flagged: %s', async (text) => {
    const f = await facts(text)
    expect(f.flags).not.toContain('executable_comment')
    expect(f.parsed).toBe(true)
  })

  // Each of these is about where a string or comment ends, which decides how many statements run.
  const counts: [string, string[]][] = [
    ["SELECT 'a\\'; DROP TABLE t; -- '", ['SELECT']],
    ["SELECT '\\' , ' ; DROP TABLE users; -- '", ['SELECT', 'DROP']],
    ["SELECT 'a\\\\'; DROP TABLE t", ['SELECT', 'DROP']],
    ['SELECT "a\\"; DROP TABLE t; -- "', ['SELECT']],
    ['SELECT `a``; DROP TABLE t; -- `', ['SELECT']],
    ["SELECT 'it''s'; DROP TABLE t", ['SELECT', 'DROP']],
    ['SELECT 1 /* x */ ; DROP TABLE t; -- */', ['SELECT', 'DROP']],
    ['SELECT 1 /* a /* b */ ; DROP TABLE t', ['SELECT', 'DROP']],
    ['SELECT 1 -- x; DROP TABLE t', ['SELECT']],
    ['SELECT 1 --\tx; DROP TABLE t', ['SELECT']],
    ['SELECT 1 # x; DROP TABLE t', ['SELECT']],
    ['SELECT 1 #;\r; DROP TABLE t', ['SELECT']],
    ['SELECT 1--1', ['SELECT']],
  ]
  test.each(counts)('statement boundaries: %s', async (text, types) => {
    const f = await facts(text)
    expect(f.parsed).toBe(true)
    expect(f.types).toEqual(types)
  })

  test('lexer and parser disagreeing on the statement count is refused', async () => {
    // sqlparser-rs reads `--<NBSP>` as a comment (1 statement); MariaDB reads NBSP as an identifier
    // byte, so it sees `SELECT 1 - -<NBSP>x` and then `DROP TABLE t` (checked on MariaDB 10.11).
    const f = await facts('SELECT 1 --\u00a0x; DROP TABLE t')
    expect(f.parsed).toBe(false)
    expect(f.error).toMatch(/statement count mismatch: lexer 2, parser 1/)
  })

  test.each([
    ["SELECT 'abc", 'unterminated string'],
    ['SELECT `abc', 'unterminated identifier'],
    ['SELECT 1 /* abc', 'unterminated comment'],
    ['', 'empty statement'],
    ['  -- only a comment\n', 'empty statement'],
    [';', 'empty statement'],
  ])('unreadable text is not parsed: %j', async (text, error) => {
    expect(await facts(text)).toMatchObject({ parsed: false, error, write: true, types: [] })
  })

  test('parser errors do not echo the offending token (it may be a parameter value)', async () => {
    const f = await facts("SELECT * FROM t WHERE x = 'canary-value-41' 'canary-token' ORDER")
    expect(f.parsed).toBe(false)
    expect(f.error).toMatch(/^syntax error at line 1, column \d+/)
    expect(f.error).not.toMatch(/canary/)
  })

  test('deep nesting is a clean parse error', async () => {
    const f = await facts(`SELECT ${'('.repeat(80)}1${')'.repeat(80)}`)
    expect(f).toMatchObject({ parsed: false, error: 'statement nested too deeply (parser recursion limit)' })
  })

  test('a WASM trap denies that command, recreates the parser and keeps serving', async () => {
    await facts('SELECT 1') // loaded
    const ors = `SELECT * FROM t WHERE ${Array.from({ length: 800 }, (_, i) => `a = ${i}`).join(' OR ')}`
    const trapped = await facts(ors)
    expect(trapped.parsed).toBe(false)
    expect(trapped.error).toMatch(/trapped/)
    // A broken instance fails every later call; these parse only if the instance was recreated.
    for (let i = 0; i < 3; i++) {
      expect(await facts(`SELECT ${i} FROM after_trap`)).toMatchObject({
        parsed: true,
        reads: ['after_trap'],
      })
      const again = await facts(`${ors} OR b = ${i}`)
      expect(again.parsed).toBe(false)
    }
    expect(await facts('DELETE FROM after_trap')).toMatchObject({ parsed: true, unbounded: true })
  })

  test('input over the size cap is not parsed', async () => {
    const text = `SELECT '${'x'.repeat(MAX_MYSQL_STATEMENT_LENGTH)}'`
    const f = await facts(text)
    expect(f).toMatchObject({
      parsed: false,
      error: `statement longer than ${MAX_MYSQL_STATEMENT_LENGTH} characters`,
    })
  })
})

describe('describeMysql: results', () => {
  test('are deep-frozen', async () => {
    const f = await facts('SELECT a FROM t1 JOIN t2 ON 1; DELETE FROM t3')
    expect(Object.isFrozen(f)).toBe(true)
    expect(Object.isFrozen(f.statements)).toBe(true)
    expect(Object.isFrozen(f.statements[1])).toBe(true)
    expect(Object.isFrozen(f.statements[1]?.writes)).toBe(true)
    expect(Object.isFrozen(f.flags)).toBe(true)
    expect(() => (f.reads as string[]).push('x')).toThrow(TypeError)
    const bad = await facts('/*!x*/')
    expect(Object.isFrozen(bad.flags)).toBe(true)
  })

  test('are cached by text: the same object, synchronously, once loaded', async () => {
    const text = 'SELECT cached FROM cache_probe'
    const first = await facts(text)
    const second = describeMysql(text)
    expect(second).toBe(first) // not a promise: the cached, frozen object itself
    expect(describeMysql('SELECT uncached FROM cache_probe')).not.toBeInstanceOf(Promise)
  })

  test('rejects a non-string', () => {
    expect(() => describeMysql(42 as unknown as string)).toThrow(TypeError)
  })
})
