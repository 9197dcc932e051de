// sql.effects from describePostgres, and the server as the oracle: every statement PostgreSQL
// refuses inside a read-only transaction (SQLSTATE 25006) is described as a write, and the side
// effects it does not refuse there are named in `effects`.
import { describePostgres } from '@warden/drivers/pg'
import type { SqlFacts } from '@warden/policy'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createDatabase, dropDatabase, PG } from './helpers.js'

async function facts(text: string): Promise<SqlFacts> {
  return await describePostgres(text)
}

// [text, effects, write]
const EFFECTS: readonly (readonly [string, readonly string[], boolean])[] = [
  [`SELECT nextval('s')`, ['sequence'], true],
  [`SELECT U&"\\006Eextval"('s')`, ['sequence'], true],
  [`SELECT "nextval"('s'), pg_catalog.setval('s', 1)`, ['sequence'], true],
  ['SELECT currval($1)', [], false],
  ['SELECT lo_create(0)', ['large_object'], true],
  ['SELECT loread(lo_open($1, 262144), 10)', ['large_object'], false],
  [`SELECT lo_import('/x')`, ['large_object', 'server_file'], true],
  ['SELECT pg_terminate_backend($1)', ['signal_backend'], false],
  ['SELECT pg_catalog.pg_cancel_backend($1)', ['signal_backend'], false],
  ['SELECT pg_reload_conf()', ['server_config'], false],
  ['SELECT pg_stat_reset_single_table_counters($1)', ['server_config'], false],
  [`SELECT pg_logical_emit_message(true, 'p', 'm')`, ['wal'], true],
  ['SELECT pg_switch_wal()', ['wal'], false],
  [`SELECT pg_notify('c', 'x')`, ['notify'], false],
  ['NOTIFY c', ['notify'], false],
  ['UNLISTEN *', ['notify'], false],
  ['SELECT pg_try_advisory_xact_lock(1)', ['advisory_lock'], false],
  [`SELECT dblink_exec('x', 'y')`, ['remote'], true],
  [`SELECT pg_read_binary_file('/x')`, ['server_file'], false],
  [`SELECT set_config('search_path', 'x', false)`, ['session_config'], false],
  [`SELECT set_config('role', 'x', false)`, ['session_config', 'role_change'], false],
  ['SET ROLE x', ['role_change'], false],
  ['RESET SESSION AUTHORIZATION', ['role_change'], false],
  ['SET default_transaction_read_only = off', ['session_config'], true],
  ['SET LOCAL transaction_read_only = off', ['session_config'], true],
  ['SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', ['session_config', 'transaction_control'], true],
  ['SET TRANSACTION READ WRITE', ['transaction_control'], true],
  ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY', ['transaction_control'], false],
  ['RESET ALL', ['session_config'], true],
  ['DISCARD ALL', ['session_config'], true],
  ['DISCARD PLANS', [], false],
  ['BEGIN', ['transaction_control'], false],
  ['BEGIN READ WRITE', ['transaction_control'], false],
  ['COMMIT', ['transaction_control'], false],
  ['SELECT 1; COMMIT', ['transaction_control'], true],
  ['DO $$BEGIN COMMIT; END$$', ['transaction_control'], true],
  ['SET CONSTRAINTS ALL IMMEDIATE', ['transaction_control'], true],
  ['SELECT * FROM t FOR UPDATE', ['lock'], true],
  ['DECLARE c CURSOR FOR SELECT * FROM t FOR SHARE', ['lock'], true],
  ['EXPLAIN SELECT * FROM t FOR UPDATE', [], false],
  ['LOCK t', ['lock'], true],
  ['ALTER SYSTEM SET work_mem = 1', ['server_config'], true],
  [`COPY t TO PROGRAM 'x'`, ['program'], true],
  [`COPY t TO '/x'`, ['server_file'], true],
  ['COPY t TO STDOUT', [], false],
  ['SELECT my_function(1)', [], false],
  // Added by the pg_proc audit (PostgreSQL 15–18, docs/pg.md).
  ['SELECT pg_ls_dir($1)', ['server_file'], false],
  ['SELECT * FROM pg_catalog.pg_ls_waldir()', ['server_file'], false],
  ['SELECT pg_ls_summariesdir()', ['server_file'], false],
  ['SELECT pg_current_logfile()', ['server_file'], false],
  ['SELECT * FROM pg_hba_file_rules()', ['server_file'], false],
  ['SELECT * FROM pg_get_wal_records_info($1, $2)', ['server_file'], false],
  ['SELECT autoprewarm_dump_now()', ['server_file'], true],
  ['SELECT brin_summarize_new_values($1)', [], true],
  ['SELECT gin_clean_pending_list($1)', [], true],
  ['SELECT heap_force_kill($1, $2)', [], true],
  ['SELECT pg_truncate_visibility_map($1)', [], true],
  [`SELECT pg_restore_relation_stats('relname', 't', 'relpages', 1)`, ['server_config'], true],
  [`SELECT pg_clear_attribute_stats('public', 't', 'id', false)`, ['server_config'], true],
  ['SELECT pg_stat_statements_reset()', ['server_config'], false],
  ['SELECT pg_prewarm($1)', ['server_config'], false],
  ['SELECT pg_buffercache_evict_all()', ['server_config'], false],
  ['SELECT txid_current()', ['wal'], false],
  ['SELECT pg_current_xact_id()', ['wal'], false],
  ['SELECT pg_current_xact_id_if_assigned()', [], false],
  ['SELECT pg_log_standby_snapshot()', ['wal'], false],
  ['SELECT pg_sync_replication_slots()', ['wal'], true],
  ['SELECT pg_listening_channels()', [], false],
]

describe('sql.effects', () => {
  for (const [text, effects, write] of EFFECTS) {
    test(text, async () => {
      const f = await facts(text)
      expect(f.parsed).toBe(true)
      expect([...f.effects].sort()).toEqual([...effects].sort())
      expect(f.write).toBe(write)
    })
  }

  test('ts_rewrite with a query text is dynamic SQL; with three tsqueries it is not', async () => {
    expect((await facts(`SELECT ts_rewrite('a'::tsquery, 'SELECT 1')`)).flags).toContain('dynamic_sql')
    expect((await facts(`SELECT ts_rewrite('a'::tsquery, 'a'::tsquery, 'b'::tsquery)`)).flags).not.toContain(
      'dynamic_sql',
    )
  })

  test('SELECT ... INTO reports CREATE among its types', async () => {
    expect((await facts('SELECT * INTO t2 FROM t')).types).toEqual(['SELECT', 'CREATE'])
  })
})

// Statements safe to run against the local server inside a transaction that is rolled back.
const ORACLE = [
  `SELECT nextval('seq')`,
  `SELECT U&"\\006Eextval"('seq')`,
  `SELECT setval('seq', 5)`,
  `SELECT currval('seq')`,
  'SELECT lo_create(0)',
  `SELECT lo_from_bytea(0, 'x')`,
  'SELECT pg_advisory_xact_lock(14)',
  `SELECT pg_notify('ro14', 'x')`,
  'NOTIFY ro14',
  'SELECT * FROM t FOR UPDATE',
  'SELECT * FROM t FOR KEY SHARE',
  'LOCK t',
  'SET CONSTRAINTS ALL IMMEDIATE',
  'SELECT * INTO t_copy FROM t',
  `SELECT set_config('search_path', 'public', true)`,
  'SELECT pg_stat_reset()',
  'SELECT del()',
  'SELECT count(*) FROM t',
  'EXPLAIN SELECT del()',
  'EXPLAIN ANALYZE SELECT del()',
]

describe('the server as the oracle (inside BEGIN READ ONLY, rolled back)', () => {
  let database: string
  let client: pg.Client
  beforeAll(async () => {
    database = await createDatabase('ro14_oracle')
    client = new pg.Client({ ...PG, user: 'postgres', database })
    await client.connect()
    await client.query(`CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);
      CREATE SEQUENCE seq; SELECT nextval('seq');
      CREATE FUNCTION del() RETURNS int LANGUAGE sql AS 'DELETE FROM t RETURNING 1';
      CREATE TABLE pages (id int, tags int[]);
      CREATE INDEX pages_brin ON pages USING brin (id) WITH (pages_per_range = 1, autosummarize = off);
      CREATE INDEX pages_gin ON pages USING gin (tags) WITH (fastupdate = on);
      INSERT INTO pages SELECT g, ARRAY[g] FROM generate_series(1, 2000) g`)
  })
  afterAll(async () => {
    await client?.end()
    if (database) await dropDatabase(database)
  })

  for (const text of ORACLE) {
    test(text, async () => {
      await client.query('BEGIN READ ONLY')
      const code = await client.query(text).then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      )
      await client.query('ROLLBACK')
      const f = await facts(text)
      // What the server refuses as a write is never described as a read, unless no described
      // fact could know (a user function): that one the driver's read-only mode leaves to the server.
      if (code === '25006' && f.functions.every((name) => name !== 'del')) expect(f.write).toBe(true)
      // What the server lets through in a read-only transaction and still acts outside it is named.
      if (
        code === 'ok' &&
        f.functions.some((name) => /^(lo_|pg_advisory|pg_notify|pg_stat_reset)/.test(name))
      )
        expect(f.effects.length).toBeGreaterThan(0)
      expect(['ok', '25006']).toContain(code)
    })
  }

  // Added by the pg_proc audit: the server lets each through a read-only transaction (so it is an
  // effect) and, for the writes, the result shows it wrote.
  const LET_THROUGH: readonly (readonly [string, readonly string[], boolean, (row: unknown) => void])[] = [
    [
      `SELECT brin_summarize_new_values('pages_brin') AS v`,
      [],
      true,
      (v) => expect(Number(v)).toBeGreaterThan(0),
    ],
    [
      `SELECT gin_clean_pending_list('pages_gin') AS v`,
      [],
      true,
      (v) => expect(Number(v)).toBeGreaterThan(0),
    ],
    [
      `SELECT count(*) AS v FROM pg_ls_dir('.')`,
      ['server_file'],
      false,
      (v) => expect(Number(v)).toBeGreaterThan(0),
    ],
    [
      `SELECT count(*) AS v FROM pg_ls_waldir()`,
      ['server_file'],
      false,
      (v) => expect(Number(v)).toBeGreaterThan(0),
    ],
    [
      `SELECT count(*) AS v FROM pg_hba_file_rules()`,
      ['server_file'],
      false,
      (v) => expect(Number(v)).toBeGreaterThan(0),
    ],
    [`SELECT count(*) AS v FROM pg_show_all_file_settings()`, ['server_file'], false, () => {}],
    [`SELECT pg_current_logfile() IS NULL AS v`, ['server_file'], false, () => {}],
    // An XID is assigned although the transaction is read-only.
    ['SELECT txid_current() AS v', ['wal'], false, (v) => expect(Number(v)).toBeGreaterThan(0)],
    ['SELECT pg_current_xact_id()::text AS v', ['wal'], false, (v) => expect(Number(v)).toBeGreaterThan(0)],
  ]
  for (const [text, effects, write, check] of LET_THROUGH) {
    test(`let through: ${text}`, async () => {
      await client.query('BEGIN READ ONLY')
      try {
        const { rows } = await client.query<{ v: unknown }>(text)
        check(rows[0]?.v)
      } finally {
        await client.query('ROLLBACK')
      }
      const f = await facts(text)
      expect([...f.effects].sort()).toEqual([...effects].sort())
      expect(f.write).toBe(write)
    })
  }
})
