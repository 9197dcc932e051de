// Issue 19 part 1: a masked column's value never leaves through a derived value. Under the example
// policies (email, *.ssn and customers.phone partial), every way to read those columns through an
// expression, a whole row, JSON, a subquery, a CTE or a view returns no masked value in clear. Each
// canary is searched for in the whole serialized result and in the audit records.
import { fileURLToPath } from 'node:url'
import { createWarden, type Warden } from '@warden/core'
import { type MemorySink, memorySink, stubBroker } from '@warden/core/testing'
import { Pool } from '@warden/drivers/pg'
import { loadPolicy } from '@warden/policy'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { PG } from './helpers.js'

const EXAMPLES = fileURLToPath(new URL('../../../../examples/policies', import.meta.url))
const S = `w19_${process.pid}`
const DB = { ...PG, database: 'test' }
// Canaries: each masked value and the parts a partial mask hides (it keeps an email's domain and
// the last four digits, so those are no canaries).
const EMAIL = 'zebulon.quist@analytical.example.net'
const PHONE = '+1 415 555 0101'
const SSN = '219-09-9999'
const CANARIES = [EMAIL, 'zebulon', 'quist', PHONE, '415 555', '4155550', SSN, '219-09', '21909']
// Each canary reversed or upper-cased is the same secret.
const FORMS = CANARIES.flatMap((c) => [c, c.toUpperCase(), [...c].reverse().join('')])

let admin: pg.Client
let warden: Warden
let audit: MemorySink
let pool: Pool

beforeAll(async () => {
  admin = new pg.Client({ ...DB, user: 'postgres' })
  await admin.connect()
  await admin.query(`
    DROP SCHEMA IF EXISTS ${S} CASCADE;
    CREATE SCHEMA ${S};
    CREATE TABLE ${S}.customers (id int PRIMARY KEY, name text, email text, phone text, ssn text);
    INSERT INTO ${S}.customers VALUES (1, 'Ada', '${EMAIL}', '${PHONE}', '${SSN}');
    CREATE VIEW ${S}.contacts AS SELECT id, name, email AS contact, phone AS tel, ssn AS tax FROM ${S}.customers;
    CREATE VIEW ${S}.shouting AS SELECT id, upper(email) AS loud FROM ${S}.customers;
    CREATE VIEW ${S}.layered AS SELECT id, contact AS c2, tel FROM ${S}.contacts;
    CREATE MATERIALIZED VIEW ${S}.frozen AS SELECT id, email AS e FROM ${S}.customers;
    CREATE VIEW ${S}.names AS SELECT id, name FROM ${S}.customers;`)
  audit = memorySink()
  warden = createWarden({
    policy: await loadPolicy(EXAMPLES),
    broker: stubBroker({ username: 'postgres', ttlMs: 120_000 }),
    audit,
  })
  const reader = await warden.session({
    principal: { id: 'svc-reports', type: 'service', groups: ['readers'] },
  })
  pool = new Pool(reader, { ...DB, resource: `orders-w19-${process.pid}`, max: 2 })
})

afterAll(async () => {
  await pool?.end()
  await warden?.close()
  await admin?.query(`DROP SCHEMA IF EXISTS ${S} CASCADE`)
  await admin?.end()
})

function clean(label: string, value: unknown): void {
  const text = JSON.stringify(value)
  for (const c of FORMS) expect(text, `${label}: ${c}`).not.toContain(c)
}

const C = `${S}.customers`
const SHAPES: readonly string[] = [
  `SELECT c FROM ${C} c`,
  `SELECT c::text FROM ${C} c`,
  `SELECT row_to_json(c) FROM ${C} c`,
  `SELECT to_jsonb(c) FROM ${C} c`,
  `SELECT json_agg(c) FROM ${C} c`,
  `SELECT to_json(c.*) AS j, c.id FROM ${C} c`,
  `SELECT ROW(c.*) FROM ${C} c`,
  `SELECT json_build_object('a', email, 'p', phone) FROM ${C}`,
  `SELECT jsonb_build_array(email, phone, ssn) FROM ${C}`,
  `SELECT concat(email, ' ', phone, ' ', ssn) FROM ${C}`,
  `SELECT concat_ws(',', name, ssn) FROM ${C}`,
  `SELECT format('%s|%s', email, ssn) FROM ${C}`,
  `SELECT upper(email) FROM ${C}`,
  `SELECT split_part(phone, ' ', 2) FROM ${C}`,
  `SELECT reverse(ssn) FROM ${C}`,
  `SELECT substr(ssn, 1, 6) FROM ${C}`,
  `SELECT email || '' FROM ${C}`,
  `SELECT ssn || '' AS ssn FROM ${C}`,
  `SELECT translate(email, 'aeiou', 'AEIOU') FROM ${C}`,
  `SELECT string_agg(email, ';') FROM ${C}`,
  `SELECT array_agg(phone) FROM ${C}`,
  `SELECT ARRAY[email, ssn] FROM ${C}`,
  `SELECT x FROM (SELECT email AS x FROM ${C}) s`,
  `SELECT * FROM (SELECT upper(email) AS shout, ssn AS nothing_to_see FROM ${C}) s`,
  `SELECT * FROM (SELECT id, email, phone, ssn FROM ${C}) s`,
  `SELECT s FROM (SELECT email, phone FROM ${C}) s`,
  `WITH w AS (SELECT email AS e, phone AS p FROM ${C}) SELECT e, p FROM w`,
  `WITH w AS (SELECT reverse(ssn) AS r FROM ${C}) SELECT r FROM w`,
  `SELECT email FROM ${C} UNION ALL SELECT 'x'`,
  `SELECT 'x' AS v UNION ALL SELECT ssn FROM ${C}`,
  `SELECT * FROM ${S}.contacts`,
  `SELECT contact, tel, tax FROM ${S}.contacts`,
  `SELECT loud FROM ${S}.shouting`,
  `SELECT * FROM ${S}.layered`,
  `SELECT e FROM ${S}.frozen`,
  `SELECT v FROM ${S}.contacts v`,
  `SELECT row_to_json(v) FROM ${S}.contacts v`,
  `SELECT (SELECT max(ssn) FROM ${C}) AS m`,
  `SELECT coalesce(phone, '') FROM ${C}`,
  `SELECT CASE WHEN true THEN ssn END FROM ${C}`,
  `SELECT encode(convert_to(ssn, 'UTF8'), 'hex') FROM ${C}`,
  `SELECT md5(ssn) AS h, left(email, 30) FROM ${C}`,
]

describe('pg: derived values of masked columns under the example policies', () => {
  for (const text of SHAPES) {
    test(text.replaceAll(`${S}.`, ''), async () => {
      const r = await pool.query(text)
      expect(r.rows.length).toBeGreaterThan(0)
      clean(text, { rows: r.rows, fields: r.fields })
    })
  }

  test('rowMode array sees the same masking', async () => {
    const r = await pool.query({ text: `SELECT c, upper(email), reverse(ssn) FROM ${C} c`, rowMode: 'array' })
    clean('array', r.rows)
  })

  test('plain columns of other tables and unmasked columns keep their values', async () => {
    const r = await pool.query(`SELECT id, name, upper(name) AS n, id * 2 AS twice FROM ${C}`)
    // (The example policy's detector rule scans every column, so each comes back as text.)
    expect(r.rows).toEqual([{ id: '1', name: 'Ada', n: 'ADA', twice: '2' }])
  })

  test('a view reading no masked column keeps its values; one that does is masked whole (no per-column lineage)', async () => {
    const plain = await pool.query(`SELECT id, name FROM ${S}.names`)
    expect(plain.rows).toEqual([{ id: '1', name: 'Ada' }])
    const mixed = await pool.query(`SELECT name FROM ${S}.contacts`)
    expect(mixed.rows).toEqual([{ name: '[redacted]' }])
  })

  test('the audit records name the masked columns and carry no masked value', async () => {
    await pool.query(`SELECT concat(email, ' ', phone) AS x FROM ${C}`)
    const last = audit.records.at(-1)
    expect(last?.masked).toEqual([{ column: 'x', strategy: 'redact', count: 1 }])
    clean('audit', audit.records)
  })
})
