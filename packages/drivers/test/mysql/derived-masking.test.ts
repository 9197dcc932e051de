// Issue 19 part 1 for MariaDB: a masked column's value never leaves through a derived value. Under
// the example policies (email, *.ssn and customers.phone partial), expressions, JSON constructors,
// aggregates, derived tables and CTEs over masked columns return no masked value in clear.
// Each canary is searched for in the whole serialized result and in the audit records.
import { fileURLToPath } from 'node:url'
import { createWarden, type MemorySink, memorySink, type Warden } from '@warden/core'
import { createPool, type MysqlUserBroker, mysqlUserBroker, type Pool } from '@warden/drivers/mysql'
import { loadPolicy } from '@warden/policy'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADMIN } from './fixtures/mysql-fixture.js'

const EXAMPLES = fileURLToPath(new URL('../../../../examples/policies', import.meta.url))
// MariaDB's schema is the database: ours is named after this process, the tables are the policy's.
const DB = `w19_${process.pid}`
const PREFIX = `w19${process.pid}_`.slice(0, 14)
const EMAIL = 'zebulon.quist@analytical.example.net'
const PHONE = '+1 415 555 0101'
const SSN = '219-09-9999'
// The masked values and the parts a partial mask hides (it keeps the domain and the last four).
const CANARIES = [EMAIL, 'zebulon', 'quist', PHONE, '415 555', '4155550', SSN, '219-09', '21909']
const FORMS = CANARIES.flatMap((c) => [c, c.toUpperCase(), [...c].reverse().join('')])

let admin: mysql.Connection
let broker: MysqlUserBroker
let warden: Warden
let audit: MemorySink
let pool: Pool

beforeAll(async () => {
  admin = await mysql.createConnection({ ...ADMIN, multipleStatements: true })
  await admin.query(`DROP DATABASE IF EXISTS \`${DB}\`; CREATE DATABASE \`${DB}\`; USE \`${DB}\``)
  await admin.query(`
    CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(80), phone VARCHAR(30), ssn VARCHAR(20));
    INSERT INTO customers VALUES (1, 'Ada', '${EMAIL}', '${PHONE}', '${SSN}');`)
  broker = mysqlUserBroker({ admin: ADMIN, grants: [`SELECT ON \`${DB}\`.*`], ttl: '2m', prefix: PREFIX })
  audit = memorySink()
  warden = createWarden({ policy: await loadPolicy(EXAMPLES), broker, audit })
  const reader = await warden.session({
    principal: { id: 'svc-reports', type: 'service', groups: ['readers'] },
  })
  pool = createPool(reader, {
    resource: `orders-w19-${process.pid}`,
    host: ADMIN.host,
    database: DB,
    connectionLimit: 2,
  })
})

afterAll(async () => {
  await pool?.end()
  await warden?.close().catch(() => undefined)
  await broker?.close().catch(() => undefined)
  await admin?.query(`DROP DATABASE IF EXISTS \`${DB}\``)
  await admin?.end()
})

function clean(label: string, value: unknown): void {
  const text = JSON.stringify(value)
  for (const c of FORMS) expect(text, `${label}: ${c}`).not.toContain(c)
}

const SHAPES: readonly string[] = [
  "SELECT CONCAT(email, ' ', phone, ' ', ssn) FROM customers",
  "SELECT CONCAT_WS(',', name, ssn) FROM customers",
  "SELECT JSON_OBJECT('a', email, 'p', phone) FROM customers",
  'SELECT JSON_ARRAY(email, phone, ssn) FROM customers',
  "SELECT JSON_ARRAYAGG(JSON_OBJECT('e', email)) FROM customers",
  'SELECT UPPER(email) FROM customers',
  'SELECT LOWER(ssn) AS ssn FROM customers',
  'SELECT REVERSE(ssn) FROM customers',
  "SELECT SUBSTRING_INDEX(phone, ' ', 3) FROM customers",
  'SELECT SUBSTR(ssn, 1, 6) FROM customers',
  "SELECT REPLACE(email, '.', '_') FROM customers",
  "SELECT GROUP_CONCAT(email SEPARATOR ';') FROM customers",
  'SELECT HEX(ssn) AS h, UNHEX(HEX(ssn)) AS u FROM customers',
  "SELECT email || '' FROM customers",
  'SELECT COALESCE(phone, name) FROM customers',
  'SELECT CASE WHEN id = 1 THEN ssn END FROM customers',
  'SELECT x FROM (SELECT email AS x FROM customers) s',
  'SELECT * FROM (SELECT UPPER(email) AS shout, ssn AS plain FROM customers) s',
  'SELECT * FROM (SELECT id, email, phone, ssn FROM customers) s',
  'WITH w AS (SELECT email AS e, phone AS p FROM customers) SELECT e, p FROM w',
  'WITH w AS (SELECT REVERSE(ssn) AS r FROM customers) SELECT r FROM w',
  "SELECT email FROM customers UNION ALL SELECT 'x'",
  "SELECT 'x' AS v UNION ALL SELECT ssn FROM customers",
  'SELECT (SELECT MAX(ssn) FROM customers) AS m',
]

describe('mysql: derived values of masked columns under the example policies', () => {
  for (const text of SHAPES) {
    test(text, async () => {
      const [rows, fields] = await pool.query(text)
      expect((rows as unknown[]).length).toBeGreaterThan(0)
      clean(text, { rows, fields })
    })
  }

  test('rowsAsArray sees the same masking', async () => {
    const [rows] = await pool.query({
      sql: 'SELECT CONCAT(email, phone), REVERSE(ssn) FROM customers',
      rowsAsArray: true,
    })
    clean('array', rows)
  })

  test('unmasked columns and expressions over them keep their values', async () => {
    const [rows] = await pool.query('SELECT id, name, UPPER(name) AS n FROM customers')
    expect(rows).toEqual([{ id: 1, name: 'Ada', n: 'ADA' }])
  })

  test('the audit names the masked column with redact and carries no masked value', async () => {
    await pool.query("SELECT CONCAT(email, ' ', phone) AS x FROM customers")
    expect(audit.records.at(-1)?.masked).toEqual([{ column: 'x', strategy: 'redact', count: 1 }])
    clean('audit', audit.records)
  })
})
