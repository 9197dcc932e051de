// Bound parameter values never come back in errors or audit records, whether or not the decision
// masks: PostgreSQL quotes a failed cast's input and prints key values in `detail`.
import { createWarden, type Warden } from '@warden/core'
import { memorySink, stubBroker } from '@warden/core/testing'
import { Pool } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admin, createDatabase, dropDatabase, PG } from './helpers.js'

const CANARY = 'hunter2-canary-7f3a'
let database: string
let warden: Warden
let audit: ReturnType<typeof memorySink>
let pool: Pool

beforeAll(async () => {
  database = await createDatabase('errvals')
  await admin((c) => c.query('CREATE TABLE accounts (login text PRIMARY KEY, n int)'), database)
  await admin((c) => c.query(`INSERT INTO accounts VALUES ('${CANARY}', 1)`), database)
  audit = memorySink()
  // No masks at all: the values must go anyway.
  warden = createWarden({
    policy: compilePolicy('defaults: { effect: allow }\nrules: []'),
    audit,
    broker: stubBroker({ username: 'postgres' }),
    signals: false,
  })
  const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
  pool = new Pool(session, { ...PG, database, resource: 'accounts' })
})
afterAll(async () => {
  await pool?.end()
  await warden?.close()
  await dropDatabase(database)
})

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the query to fail')
    },
    (e: Error & Record<string, unknown>) => e,
  )
const everything = (e: Error & Record<string, unknown>) =>
  JSON.stringify({
    message: e.message,
    detail: e.detail,
    where: e.where,
    stack: e.stack,
    records: audit.entries,
  })

describe('pg errors without masks', () => {
  it('a failed cast of a parameter (class 22) does not quote it', async () => {
    const e = await failure(pool.query('SELECT $1::int AS n', [CANARY]))
    expect(e.code).toBe('22P02')
    expect(e.message).toMatch(/invalid input syntax for type integer/)
    expect(everything(e)).not.toContain(CANARY)
    expect(audit.expectRecord({ command: 'SELECT $1::int AS n' }).outcome).toMatchObject({
      status: 'error',
      code: '22P02',
    })
  })

  it('a duplicate key from a parameter does not print it in detail', async () => {
    const e = await failure(pool.query('INSERT INTO accounts (login, n) VALUES ($1, 2)', [CANARY]))
    expect(e.code).toBe('23505')
    expect(e.detail).toMatch(/^Key \(login\)=\(\[redacted\]\) already exists\.$/)
    expect(everything(e)).not.toContain(CANARY)
  })

  it('a failing row (NOT NULL, CHECK) is not printed', async () => {
    await admin((c) => c.query('ALTER TABLE accounts ADD CONSTRAINT small CHECK (n < 100)'), database)
    const e = await failure(pool.query('INSERT INTO accounts (login, n) VALUES ($1, 500)', [`${CANARY}-2`]))
    expect(e.code).toBe('23514')
    expect(everything(e)).not.toContain(CANARY)
  })
})
