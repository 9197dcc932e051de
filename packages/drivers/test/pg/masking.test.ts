// Masking through every path a row can take: results, rowMode array, pg.Query row events, cursors,
// streams, COPY TO (text and CSV), and values inside error messages.
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createWarden, type Session, type Warden } from '@warden/core'
import { type MemorySink, memorySink, stubBroker } from '@warden/core/testing'
import { Client } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import Cursor from 'pg-cursor'
import QueryStream from 'pg-query-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admin, createDatabase, dropDatabase, PG, POLICY, SCHEMA } from './helpers.js'

const R = '[redacted]'
let database: string
let warden: Warden
let sink: MemorySink
let masked: Session
let trusted: Session
let client: Client
let trustedClient: Client

beforeAll(async () => {
  database = await createDatabase('warden_pg_mask')
  await admin((c) => c.query(SCHEMA), database)
  sink = memorySink()
  warden = createWarden({
    policy: compilePolicy(POLICY),
    broker: stubBroker({ username: 'postgres' }),
    audit: sink,
  })
  masked = await warden.session({ principal: { id: 'svc', type: 'service', groups: [] } })
  trusted = await warden.session({ principal: { id: 'dpo', type: 'service', groups: ['pii-readers'] } })
  client = new Client(masked, { ...PG, database, resource: 'crm' })
  trustedClient = new Client(trusted, { ...PG, database, resource: 'crm' })
  await client.connect()
  await trustedClient.connect()
})

afterAll(async () => {
  await client?.end()
  await trustedClient?.end()
  await warden?.close()
  if (database) await dropDatabase(database)
})

async function copyOut(c: Client, text: string): Promise<string> {
  const chunks: Buffer[] = []
  await pipeline(
    c.query(copyTo(text)),
    new Writable({
      write(chunk, _e, cb) {
        chunks.push(chunk)
        cb()
      },
    }),
  )
  return Buffer.concat(chunks).toString()
}

describe('row masking', () => {
  it('masks by column name and by table.column, keeps NULL and other columns', async () => {
    const r = await client.query('SELECT id, email, ssn, phone, note FROM customers ORDER BY id')
    expect(r.rows).toEqual([
      { id: 1, email: R, ssn: R, phone: R, note: 'vip' },
      { id: 2, email: R, ssn: R, phone: R, note: null },
      { id: 3, email: null, ssn: null, phone: null, note: 'tab\tand \\ backslash' },
    ])
    const record = sink.commands().at(-1)
    expect(record?.masked).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ column: 'email', strategy: 'redact', count: 2 }),
        expect.objectContaining({ column: 'ssn', count: 2 }),
      ]),
    )
  })

  it('customers.phone is masked, orders.phone is not (provenance from the row description)', async () => {
    const r = await client.query(
      'SELECT c.phone AS cp, o.phone AS op FROM orders o JOIN customers c ON c.id = o.customer ORDER BY o.id',
    )
    expect(r.rows).toEqual([
      { cp: R, op: '+1 555 0999' },
      { cp: R, op: null },
    ])
  })

  it('an alias does not unmask a table column', async () => {
    const r = await client.query('SELECT ssn AS x, email AS contact FROM customers WHERE id = 1')
    expect(r.rows).toEqual([{ x: R, contact: R }])
  })

  it('computed columns carry the masks of the columns they read (no table origin on the wire)', async () => {
    // Each of these once returned the raw value: the result column has no table origin.
    const leaks = [
      'SELECT upper(ssn) AS x FROM customers WHERE id = 1',
      "SELECT ssn || '' AS x FROM customers WHERE id = 1",
      "SELECT (SELECT c.phone FROM customers c WHERE c.id = 1) || '' AS x",
      'SELECT x FROM (SELECT lower(email) AS x FROM customers WHERE id = 1) t',
      "SELECT string_agg(ssn, ',') AS x FROM customers WHERE id = 1",
      'SELECT CASE WHEN id = 1 THEN email END AS x FROM customers WHERE id = 1',
      "WITH w AS (SELECT ssn FROM customers WHERE id = 1) SELECT ssn || '' AS x FROM w",
    ]
    for (const text of leaks) {
      const r = await client.query(text)
      expect({ text, rows: r.rows }).toEqual({ text, rows: [{ x: R }] })
    }
    // Whole rows: every column of the row travels in one computed value.
    for (const text of [
      'SELECT row_to_json(c) AS x FROM customers c WHERE id = 1',
      'SELECT to_jsonb(c.*) AS x FROM customers c WHERE id = 1',
      'SELECT c::text AS x FROM customers c WHERE id = 1',
      'SELECT customers AS x FROM customers WHERE id = 1',
    ]) {
      const r = await client.query(text)
      expect({ text, rows: r.rows }).toEqual({ text, rows: [{ x: R }] })
    }
    // The policy's trusted reader still sees them.
    const open = await trustedClient.query('SELECT upper(ssn) AS x FROM customers WHERE id = 1')
    expect(open.rows).toEqual([{ x: '123-45-6789' }])
  })

  it('computed columns that read no masked column, and predicates, are left alone', async () => {
    const r = await client.query(
      "SELECT upper(name) AS n, count(*) OVER () AS total, id * 2 AS twice FROM customers WHERE ssn LIKE '123-%' ORDER BY email",
    )
    expect(r.rows).toEqual([{ n: 'ADA', total: '1', twice: 2 }])
    const counted = await client.query(
      "SELECT count(*) AS n FROM customers WHERE email LIKE '%@example.com' HAVING count(ssn) >= 0",
    )
    expect(counted.rows).toEqual([{ n: '2' }])
    // The same result shape from a statement that does read a masked column is masked: the
    // statement is part of the plan's cache key, not only the row description.
    const plain = await client.query('SELECT upper(name) AS x FROM customers WHERE id = 1')
    const secret = await client.query('SELECT upper(email) AS x FROM customers WHERE id = 1')
    expect(plain.rows).toEqual([{ x: 'ADA' }])
    expect(secret.rows).toEqual([{ x: R }])
    const again = await client.query('SELECT upper(name) AS x FROM customers WHERE id = 1')
    expect(again.rows).toEqual([{ x: 'ADA' }])
  })

  it('a table created after the catalog was read is picked up on the next masked query', async () => {
    await client.query('CREATE TABLE later (id int, ssn text)')
    await client.query("INSERT INTO later VALUES (1, '111-22-3333')")
    const first = await client.query('SELECT ssn AS s, ssn FROM later')
    expect(first.rows[0].ssn).toBe(R) // by name, before the reread
    const second = await client.query('SELECT ssn AS s FROM later')
    expect(second.rows).toEqual([{ s: R }])
  })

  it('masked columns read as text whatever their type; others keep their type', async () => {
    const r = await client.query({
      text: 'SELECT id, ssn FROM customers WHERE id = $1',
      values: [1],
      rowMode: 'array',
    })
    expect(r.rows).toEqual([[1, R]])
    expect(r.fields.map((f) => f.dataTypeID)).toEqual([23, 25])
  })

  it('named prepared statements are masked on every run', async () => {
    const q = { name: 'pii', text: 'SELECT email FROM customers WHERE id = $1' }
    expect((await client.query({ ...q, values: [1] })).rows).toEqual([{ email: R }])
    expect((await client.query({ ...q, values: [2] })).rows).toEqual([{ email: R }])
  })

  it('multi-statement results are each masked', async () => {
    const r = (await client.query(
      'SELECT email FROM customers WHERE id = 1; SELECT ssn, id FROM customers WHERE id = 2',
    )) as unknown as pg.QueryResult[]
    expect(r.map((x) => x.rows)).toEqual([[{ email: R }], [{ ssn: R, id: 2 }]])
  })

  it('pg.Query row events, pg-cursor and pg-query-stream only ever see masked rows', async () => {
    const rows: unknown[] = []
    const q = client.query(new pg.Query('SELECT ssn FROM customers WHERE id < 3 ORDER BY id'))
    q.on('row', (row: unknown) => rows.push(row))
    await new Promise((resolve, reject) => q.on('end', resolve).on('error', reject))
    expect(rows).toEqual([{ ssn: R }, { ssn: R }])

    const cursor = client.query(
      new Cursor('SELECT id, email FROM customers ORDER BY id', [], { rowMode: 'array' }),
    )
    expect(await cursor.read(2)).toEqual([
      [1, R],
      [2, R],
    ])
    await cursor.close()

    const streamed: unknown[] = []
    for await (const row of client.query(
      new QueryStream('SELECT email FROM customers WHERE email IS NOT NULL ORDER BY id'),
    ))
      streamed.push(row)
    expect(streamed).toEqual([{ email: R }, { email: R }])
  })

  it('a principal the mask rule exempts sees the values', async () => {
    expect((await trustedClient.query('SELECT ssn FROM customers WHERE id = 1')).rows).toEqual([
      { ssn: '123-45-6789' },
    ])
  })
})

describe('COPY TO under masks', () => {
  it('text format: masked columns, escapes and NULL kept', async () => {
    const out = await copyOut(client, 'COPY customers (id, ssn, note) TO STDOUT')
    expect(out).toBe(`1\t${R}\tvip\n2\t${R}\t\\N\n3\t\\N\ttab\\tand \\\\ backslash\n`)
    expect(out).not.toContain('123-45-6789')
  })

  it('whole table, CSV with header', async () => {
    const out = await copyOut(client, 'COPY customers TO STDOUT WITH (FORMAT csv, HEADER)')
    const lines = out.trim().split('\n')
    expect(lines[0]).toBe('id,name,email,ssn,phone,note')
    expect(lines[1]).toBe(`1,Ada,${R},${R},${R},vip`)
    expect(lines[3]).toBe('3,Cy,,,,tab\tand \\ backslash')
    expect(out).not.toContain('@example.com')
  })

  it('unmasked for an exempt principal', async () => {
    expect(await copyOut(trustedClient, 'COPY customers (ssn) TO STDOUT')).toContain('123-45-6789')
  })

  it('COPY (query) TO STDOUT: masked by the columns of the query, computed ones included', async () => {
    const out = await copyOut(
      client,
      "COPY (SELECT c.id, c.ssn, upper(c.email) AS e FROM customers c WHERE c.id < 3 AND c.name <> ')(' ORDER BY c.id) TO STDOUT WITH (FORMAT csv, HEADER)",
    )
    expect(out).toBe(`id,ssn,e\n1,${R},${R}\n2,${R},${R}\n`)
    const rows = await copyOut(client, 'COPY (SELECT row_to_json(c) FROM customers c WHERE id = 1) TO STDOUT')
    expect(rows).toBe(`${R}\n`)
    const plain = await copyOut(client, 'COPY (SELECT id, name FROM customers WHERE id = 1) TO STDOUT')
    expect(plain).toBe('1\tAda\n')
  })

  it('COPY (query) that would write, and unmaskable formats, are refused rather than passed raw', async () => {
    const before = (await trustedClient.query('SELECT count(*)::int AS n FROM orders')).rows[0].n
    await expect(
      copyOut(
        client,
        'COPY (WITH d AS (DELETE FROM orders WHERE id > 0 RETURNING *) SELECT * FROM d) TO STDOUT',
      ),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_UNSUPPORTED' })
    await expect(
      copyOut(client, 'COPY (DELETE FROM orders WHERE id > 0 RETURNING *) TO STDOUT'),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_UNSUPPORTED' })
    // The probe never ran the DELETE either.
    expect((await trustedClient.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(before)
    await expect(copyOut(client, "COPY customers TO STDOUT WITH (DELIMITER '|')")).rejects.toMatchObject({
      code: 'ERR_WARDEN_UNSUPPORTED',
    })
    await expect(copyOut(client, 'COPY customers TO STDOUT WITH (FORMAT binary)')).rejects.toMatchObject({
      code: 'ERR_WARDEN_UNSUPPORTED',
    })
    expect((await client.query('SELECT 1 AS still')).rows).toEqual([{ still: 1 }])
  })
})

describe('error scrubbing', () => {
  it('Key (ssn)=(...) in a unique violation is redacted', async () => {
    const err = (await client
      .query('INSERT INTO customers (id, name, ssn) VALUES ($1, $2, $3)', [9, 'Eve', '123-45-6789'])
      .catch((e: unknown) => e)) as pg.DatabaseError
    expect(err.code).toBe('23505')
    expect(err.detail).toBe(`Key (ssn)=(${R}) already exists.`)
    expect(JSON.stringify(sink.records)).not.toContain('123-45-6789')
  })

  it('Failing row contains (...) is redacted', async () => {
    const err = (await client
      .query('INSERT INTO customers (id, name, ssn) VALUES ($1, $2, $3)', [8, null, '555-55-5555'])
      .catch((e: unknown) => e)) as pg.DatabaseError
    expect(err.code).toBe('23502')
    expect(err.detail).toBe(`Failing row contains (${R}).`)
    expect(String(err.stack)).not.toContain('555-55-5555')
    expect(JSON.stringify(sink.records)).not.toContain('555-55-5555')
  })

  it('a failed cast or parse of a masked value does not quote it back (class 22 errors)', async () => {
    for (const text of [
      'SELECT ssn::int FROM customers WHERE id = 1',
      'SELECT ssn::jsonb FROM customers WHERE id = 1',
      'SELECT ssn::date FROM customers WHERE id = 1',
      'SELECT email::numeric FROM customers WHERE id = 1',
    ]) {
      const err = (await client.query(text).catch((e: unknown) => e)) as pg.DatabaseError
      expect(err.code?.startsWith('22')).toBe(true)
      const shown = JSON.stringify({ m: err.message, d: err.detail, w: err.where, s: err.stack })
      expect(shown).not.toMatch(/123-45-6789|-45|ada@example\.com/)
      expect(`${err.message} ${err.detail}`).toContain(`"${R}"`)
    }
    expect(JSON.stringify(sink.records)).not.toMatch(/123-45-6789"|ada@example\.com"/)
    // Without masks (a trusted reader), the server's message is left as it is.
    const open = (await trustedClient
      .query('SELECT ssn::int FROM customers WHERE id = 1')
      .catch((e: unknown) => e)) as pg.DatabaseError
    expect(open.message).toContain('123-45-6789')
  })

  it('a key column no rule masks keeps its value', async () => {
    const err = (await client
      .query("INSERT INTO customers (id, name) VALUES (1, 'dup')")
      .catch((e: unknown) => e)) as pg.DatabaseError
    expect(err.detail).toBe('Key (id)=(1) already exists.')
  })
})

describe('text the parser could not read, allowed by a permissive policy', () => {
  it('masks every computed column (they may carry anything); base-table columns keep their rules', async () => {
    const permissive = createWarden({
      policy: compilePolicy(`
defaults: { effect: allow }
masks:
  - name: pii
    columns: ["*.ssn"]
    strategy: redact
`),
      broker: stubBroker({ username: 'postgres' }),
      audit: memorySink(),
    })
    const session = await permissive.session({ principal: { id: 'svc', type: 'service', groups: [] } })
    const c = new Client(session, { ...PG, database, resource: 'crm' })
    await c.connect()
    try {
      // Longer than describePostgres reads (256 KiB): parsed: false, yet the policy allows it.
      const pad = 'x'.repeat(300 * 1024)
      const r = await c.query(
        `SELECT upper(ssn) AS x, name, length('${pad}') AS n FROM customers WHERE id = 1`,
      )
      expect(r.rows).toEqual([{ x: R, name: 'Ada', n: R }])
    } finally {
      await c.end()
      await permissive.close()
    }
  })
})
