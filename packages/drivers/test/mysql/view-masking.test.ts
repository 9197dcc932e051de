// Issue 19 part 1 for MariaDB views: MariaDB describes a view's column as a column of its own
// (orgTable: the view or its alias), so a view over masked columns (renamed, computed, a view of
// views) handed them out as plain columns no rule names. Views are read from information_schema
// once per client and their columns are computed from what the definitions read. Under the example
// policies (email, *.ssn and customers.phone partial) each canary is searched for in the serialized
// result and in the audit records, for an account that may read the definitions (SHOW VIEW) and
// one that may not (fail closed: every view column masked).
import { fileURLToPath } from 'node:url'
import { createWarden, type MemorySink, memorySink, staticBroker, type Warden } from '@warden/core'
import { createPool, type Pool } from '@warden/drivers/mysql'
import { loadPolicy } from '@warden/policy'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADMIN } from './fixtures/mysql-fixture.js'

const EXAMPLES = fileURLToPath(new URL('../../../../examples/policies', import.meta.url))
const DB = `wview_${process.pid}`
const USER = `wv${process.pid}_`
const PASSWORD = 'view-test-password'
const EMAIL = 'zebulon.quist@analytical.example.net'
const PHONE = '+1 415 555 0101'
const SSN = '219-09-9999'
const CANARIES = [EMAIL, 'zebulon', 'quist', PHONE, '415 555', '4155550', SSN, '219-09', '21909']
const FORMS = CANARIES.flatMap((c) => [c, c.toUpperCase(), [...c].reverse().join('')])

let admin: mysql.Connection
let warden: Warden
let audit: MemorySink
/** Its account may read the views' definitions (SHOW VIEW). */
let reader: Pool
/** Its account may select from the views but not read their definitions. */
let blind: Pool
/** May create views (through the guarded client). */
let writer: Pool

beforeAll(async () => {
  admin = await mysql.createConnection({ ...ADMIN, multipleStatements: true })
  await admin.query(`DROP DATABASE IF EXISTS \`${DB}\`; CREATE DATABASE \`${DB}\`; USE \`${DB}\``)
  await admin.query(`
    CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(80), phone VARCHAR(30), ssn VARCHAR(20));
    INSERT INTO customers VALUES (1, 'Ada', '${EMAIL}', '${PHONE}', '${SSN}');
    CREATE VIEW v_contacts AS SELECT id, email AS contact, phone AS tel, ssn AS tax_id FROM customers;
    CREATE VIEW v_upper AS SELECT id, UPPER(ssn) AS s, CONCAT(name, ':', phone) AS label FROM customers;
    CREATE VIEW v_nested AS SELECT contact AS c2, tel FROM v_contacts;
    CREATE VIEW v_star AS SELECT * FROM customers;
    CREATE VIEW v_names AS SELECT id, name FROM customers;`)
  // Accounts with real passwords: one may read the views' definitions, one may not, one may make views.
  const accounts = {
    reader: ['SELECT', 'SHOW VIEW'],
    blind: ['SELECT'],
    writer: ['SELECT', 'SHOW VIEW', 'CREATE VIEW'],
  }
  for (const [who, privileges] of Object.entries(accounts)) {
    await admin.query(
      `DROP USER IF EXISTS '${USER}${who}'@'%'; CREATE USER '${USER}${who}'@'%' IDENTIFIED BY '${PASSWORD}'`,
    )
    for (const p of privileges) await admin.query(`GRANT ${p} ON \`${DB}\`.* TO '${USER}${who}'@'%'`)
  }
  audit = memorySink()
  const credentials = Object.fromEntries(
    Object.keys(accounts).map((who) => [
      `mysql:orders-wv-${who}`,
      { type: 'password' as const, username: `${USER}${who}`, password: PASSWORD },
    ]),
  )
  warden = createWarden({ policy: await loadPolicy(EXAMPLES), broker: staticBroker({ credentials }), audit })
  const session = await warden.session({
    principal: { id: 'svc-reports', type: 'service', groups: ['readers'] },
  })
  const pools = ['reader', 'blind'].map((who) =>
    createPool(session, { resource: `orders-wv-${who}`, host: ADMIN.host, database: DB, connectionLimit: 2 }),
  )
  ;[reader, blind] = pools as [Pool, Pool]
  // A service account that may write (the example policy's writers-write), masked like the readers.
  const writing = await warden.session({
    principal: { id: 'svc-views', type: 'service', groups: ['readers', 'writers'] },
  })
  writer = createPool(writing, {
    resource: 'orders-wv-writer',
    host: ADMIN.host,
    database: DB,
    connectionLimit: 1,
  })
})

afterAll(async () => {
  await reader?.end()
  await blind?.end()
  await writer?.end()
  await warden?.close().catch(() => undefined)
  for (const who of ['reader', 'blind', 'writer'])
    await admin?.query(`DROP USER IF EXISTS '${USER}${who}'@'%'`)
  await admin?.query(`DROP DATABASE IF EXISTS \`${DB}\``)
  await admin?.end()
})

function clean(label: string, value: unknown): void {
  const text = JSON.stringify(value)
  for (const c of FORMS) expect(text, `${label}: ${c}`).not.toContain(c)
}

const SHAPES: readonly string[] = [
  'SELECT * FROM v_contacts',
  'SELECT contact, tel, tax_id FROM v_contacts',
  'SELECT x.contact, x.tax_id FROM v_contacts x',
  `SELECT contact FROM \`${DB}\`.v_contacts`,
  'SELECT s, label FROM v_upper',
  'SELECT * FROM v_nested',
  'SELECT * FROM v_star',
  'SELECT c.name, v.contact, v.tel FROM customers c JOIN v_contacts v ON v.id = c.id',
  'WITH w AS (SELECT tel FROM v_contacts) SELECT tel FROM w',
  'SELECT * FROM (SELECT contact, tax_id FROM v_contacts) s',
  'SELECT contact FROM v_contacts UNION ALL SELECT name FROM v_names',
]

describe('mysql: views over masked columns under the example policies', () => {
  for (const text of SHAPES) {
    test(text, async () => {
      for (const pool of [reader, blind]) {
        const [rows, fields] = await pool.query(text)
        expect((rows as unknown[]).length).toBeGreaterThan(0)
        clean(text, { rows, fields })
      }
    })
  }

  test('execute (prepared) and rowsAsArray see the same masking', async () => {
    const [prepared] = await reader.execute('SELECT contact, tel FROM v_contacts WHERE id = ?', [1])
    clean('execute', prepared)
    const [arrays] = await reader.query({
      sql: 'SELECT tax_id, c2 FROM v_contacts, v_nested',
      rowsAsArray: true,
    })
    clean('array', arrays)
  })

  test('a view column computed from masked ones is masked whole (redact), and the audit says so', async () => {
    audit.clear()
    const [rows] = await reader.query('SELECT contact FROM v_contacts')
    expect(rows).toEqual([{ contact: '[redacted]' }])
    expect(audit.records.at(-1)?.masked).toEqual([{ column: 'contact', strategy: 'redact', count: 1 }])
    clean('audit', audit.records)
  })

  test('a view over unmasked columns keeps its values when its definition can be read', async () => {
    const [rows] = await reader.query('SELECT id, name FROM v_names')
    expect(rows).toEqual([{ id: 1, name: 'Ada' }])
    // a base table's unmasked columns stay as they are beside a view's
    const [joined] = await reader.query('SELECT c.name, v.id FROM customers c JOIN v_names v ON v.id = c.id')
    expect(joined).toEqual([{ name: 'Ada', id: 1 }])
  })

  test('a view made through the client after its list was read is known to its next statement', async () => {
    const [before] = await writer.query('SELECT contact FROM v_contacts') // the list is read now
    expect(before).toEqual([{ contact: '[redacted]' }])
    await writer.query('CREATE VIEW v_late AS SELECT name, ssn AS code FROM customers')
    const [rows] = await writer.query('SELECT code FROM v_late')
    expect(rows).toEqual([{ code: '[redacted]' }])
    clean('late view', rows)
  })

  test('fail closed: without SHOW VIEW the definitions are unknown, so every view column is masked', async () => {
    const [definitions] = await blind.query(
      `SELECT TABLE_NAME AS n, VIEW_DEFINITION AS d FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '${DB}'`,
    )
    expect((definitions as { d: string }[]).map((r) => r.d).every((d) => d === '')).toBe(true)
    expect((definitions as unknown[]).length).toBeGreaterThanOrEqual(5)
    const [rows] = await blind.query('SELECT name FROM v_names')
    expect(rows).toEqual([{ name: '[redacted]' }])
    // base tables are unaffected
    const [base] = await blind.query('SELECT id, name FROM customers')
    expect(base).toEqual([{ id: 1, name: 'Ada' }])
  })
})
