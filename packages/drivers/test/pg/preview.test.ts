// "Approve the effect, not the text": the built-in dry-run preview of SQL writes held for approval,
// and the row-count guard on the approved run, against the real PostgreSQL.
import { randomBytes } from 'node:crypto'
import { type ApprovalRequest, callbackApprover, createWarden, type Session, type Warden } from '@warden/core'
import { type MemorySink, memorySink, stubBroker } from '@warden/core/testing'
import { Client, describePostgres, Pool } from '@warden/drivers/pg'
import { compilePolicy, WardenError } from '@warden/policy'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { isPlan, planPreview } from '../../src/pg/preview.js'
import { admin, createDatabase, dropDatabase, PG } from './helpers.js'

const R = '[redacted]'
const SSNS = ['111-22-3331', '111-22-3332', '111-22-3333', '111-22-3334', '111-22-3335']

const POLICY = `
defaults: { effect: deny }
rules:
  - name: unparsed-sql
    when: "!sql.parsed"
    effect: deny
  - name: session-and-scratch
    when: 'sql.types.all(t, t in ["BEGIN", "COMMIT", "ROLLBACK", "SET", "SHOW", "SELECT"]) || (sql.writes.size() > 0 && sql.writes.all(t, t == "scratch"))'
    effect: allow
  - name: held-writes
    when: 'sql.write && !sql.types.all(t, t in ["BEGIN", "COMMIT", "ROLLBACK", "SET", "SHOW", "SELECT"]) && !(sql.writes.size() > 0 && sql.writes.all(t, t == "scratch"))'
    effect: approve
    approval: { approvers: [dba], timeout: 20s }
masks:
  - name: pii
    when: 'true'
    columns: ["*.ssn", "email"]
    strategy: redact
`

const SCHEMA = `
CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, status text NOT NULL, ssn text UNIQUE, email text, note text);
CREATE TABLE items (id int PRIMARY KEY, order_id int NOT NULL, qty int NOT NULL);
CREATE TABLE scratch (id int);
CREATE SEQUENCE order_ids START 100;
CREATE TABLE audited (id int PRIMARY KEY, v text);
CREATE TABLE audit_log (n int);
CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit_log VALUES (1); RETURN NEW; END $$;
CREATE TRIGGER audited_log AFTER UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION log_change();
CREATE FUNCTION stamp() RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT 'stamped' $$;
CREATE TABLE stamped (id int, made text DEFAULT stamp());
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent(id) ON DELETE CASCADE);
CREATE TRIGGER child_log AFTER DELETE ON child FOR EACH ROW EXECUTE FUNCTION log_change();
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TRIGGER events_log AFTER DELETE ON events_2024 FOR EACH ROW EXECUTE FUNCTION log_change();
CREATE VIEW pending AS SELECT id, status FROM orders WHERE status = 'pending';
`

const SEED = `
TRUNCATE orders, items, scratch, audited, audit_log, stamped, child, parent;
INSERT INTO orders VALUES
  (1, 'ada', 'pending', '${SSNS[0]}', 'ada@example.com', 'first'),
  (2, 'bob', 'pending', '${SSNS[1]}', 'bob@example.com', NULL),
  (3, 'cy', 'pending', '${SSNS[2]}', NULL, 'third'),
  (4, 'dee', 'shipped', '${SSNS[3]}', 'dee@example.com', NULL);
INSERT INTO items VALUES (1, 1, 2), (2, 1, 1), (3, 2, 5);
INSERT INTO audited VALUES (1, 'a');
INSERT INTO parent VALUES (1);
INSERT INTO child VALUES (1, 1);
`

let database: string
let warden: Warden
let sink: MemorySink
let session: Session
let pool: Pool
const seen: ApprovalRequest[] = []
let decide: (request: ApprovalRequest) => Promise<boolean> = async () => true

beforeAll(async () => {
  database = await createDatabase('warden_pg_preview')
  await admin((c) => c.query(SCHEMA), database)
  sink = memorySink()
  warden = createWarden({
    policy: compilePolicy(POLICY),
    broker: stubBroker({ username: 'postgres' }),
    audit: sink,
    approvals: callbackApprover(async (request) => {
      seen.push(request)
      return decide(request)
    }),
  })
  session = await warden.session({ principal: { id: 'agent', type: 'agent', groups: [] } })
  pool = new Pool(session, { ...PG, database, resource: 'shop', max: 2 })
})

beforeEach(async () => {
  await admin((c) => c.query(SEED), database)
  seen.length = 0
  decide = async () => true
})

afterAll(async () => {
  await pool?.end()
  await warden?.close()
  if (database) await dropDatabase(database)
})

const db = <T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]) =>
  admin((c) => c.query<T>(text, values), database)
const statuses = async () => (await db('SELECT id, status FROM orders ORDER BY id')).rows
const PENDING = [
  { id: 1, status: 'pending' },
  { id: 2, status: 'pending' },
  { id: 3, status: 'pending' },
  { id: 4, status: 'shipped' },
]
const openTransactions = async () =>
  (
    await db<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%'",
      [database],
    )
  ).rows[0]?.n
const last = () => sink.commands().at(-1)

describe('the preview the approver sees', () => {
  it('pool: rows affected and a masked sample, computed in a transaction that is rolled back; the approved run commits', async () => {
    let during: unknown
    let open: unknown
    decide = async () => {
      during = await statuses() // the preview ran already: nothing of it may be visible
      open = await openTransactions()
      return true
    }
    const result = await pool.query("UPDATE orders SET status = 'shipped' WHERE status = 'pending'")
    expect(result.rowCount).toBe(3)
    const preview = seen[0]?.preview
    expect(preview?.summary).toBe('UPDATE orders: 3 rows')
    expect(preview?.rowsAffected).toEqual([3])
    expect(preview?.sample).toHaveLength(3)
    expect(preview?.sample?.[0]).toEqual({
      id: '1',
      customer: 'ada',
      status: 'shipped',
      ssn: R,
      email: R,
      note: 'first',
    })
    expect(preview?.sample?.[2]).toMatchObject({ id: '3', ssn: R, email: null })
    expect(during).toEqual(PENDING)
    expect(open).toBe(0)
    // JSON-serializable as is (the approval store and the inbox send it as JSON).
    expect(JSON.parse(JSON.stringify(preview))).toEqual(preview)
    expect(await statuses()).toEqual(PENDING.map((r) => ({ ...r, status: 'shipped' })))
    const record = last()
    expect(record?.approval).toMatchObject({ status: 'approved' })
    expect(record?.outcome).toMatchObject({ status: 'ok', rows: 3 })
  })

  it('an UPDATE sample carries each row as it was (read by primary key, same masks); INSERT rows are new, DELETE rows removed', async () => {
    await pool.query("UPDATE orders SET status = 'shipped', note = NULL WHERE status = 'pending'")
    const preview = seen[0]?.preview
    expect(preview?.sample?.map((r) => r.id)).toEqual(['1', '2', '3'])
    expect(preview?.before).toEqual([
      { id: '1', customer: 'ada', status: 'pending', ssn: R, email: R, note: 'first' },
      { id: '2', customer: 'bob', status: 'pending', ssn: R, email: R, note: null },
      { id: '3', customer: 'cy', status: 'pending', ssn: R, email: null, note: 'third' },
    ])
    expect(JSON.stringify(preview)).not.toMatch(/111-22-333|@example\.com/)
    expect(await statuses()).toEqual(PENDING.map((r) => ({ ...r, status: 'shipped' })))
    // The key itself assigned: the old row cannot be found by it, so no before-values.
    await pool.query('UPDATE items SET id = id + 10 WHERE order_id = 1')
    expect(seen[1]?.preview?.sample).toHaveLength(2)
    expect(seen[1]?.preview?.before).toBeUndefined()
    await pool.query('INSERT INTO items VALUES (20, 3, 1)')
    expect(seen[2]?.preview).toMatchObject({ sample: [{ id: '20' }], before: [null] })
    await pool.query('DELETE FROM items WHERE id = 3')
    expect(seen[3]?.preview).toMatchObject({ sample: [{ id: '3', qty: '5' }], sampleOf: 'removed' })
    expect(seen[3]?.preview?.before).toBeUndefined()
    expect(await openTransactions()).toBe(0)
  })

  it('a rejected write changes nothing, although its preview ran', async () => {
    decide = async () => false
    await expect(pool.query('DELETE FROM items WHERE order_id = $1', [1])).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_REJECTED',
    })
    expect(seen[0]?.preview).toMatchObject({ summary: 'DELETE items: 2 rows', rowsAffected: [2] })
    expect(seen[0]?.preview?.sample).toEqual([
      { id: '1', order_id: '1', qty: '2' },
      { id: '2', order_id: '1', qty: '1' },
    ])
    expect((await db('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 3 }])
    expect(await openTransactions()).toBe(0)
  })

  it('the sample comes from the RETURNING the statement has, masked by column origin (aliases do not unmask)', async () => {
    await pool.query(
      "UPDATE orders SET note = 'x' WHERE id IN (1, 2) RETURNING id, ssn AS tax, email AS contact",
    )
    expect(seen[0]?.preview?.sample).toEqual([
      { id: '1', tax: R, contact: R },
      { id: '2', tax: R, contact: R },
    ])
    expect(JSON.stringify(seen[0])).not.toMatch(/111-22-333|@example\.com/)
  })

  it('caps the sample at 5 rows and clips long values; counts stay exact', async () => {
    await db(
      "INSERT INTO orders SELECT g, 'bulk', 'pending', NULL, NULL, repeat('n', 1000) FROM generate_series(10, 17) g",
    )
    await pool.query("UPDATE orders SET status = 'held' WHERE customer = 'bulk'")
    const preview = seen[0]?.preview
    expect(preview?.rowsAffected).toEqual([8])
    expect(preview?.sample).toHaveLength(5)
    expect(String(preview?.sample?.[0]?.note)).toHaveLength(201)
    expect(JSON.stringify(preview).length).toBeLessThan(8000) // sample and before-values
  })

  it('one count per statement; INSERT and MERGE too', async () => {
    const client = new Client(session, { ...PG, database, resource: 'shop' })
    await client.connect()
    try {
      await client.query(
        "UPDATE orders SET status = 'x' WHERE status = 'pending'; DELETE FROM items WHERE qty > 1",
      )
      expect(seen[0]?.preview).toMatchObject({
        summary: 'UPDATE orders: 3 rows; DELETE items: 2 rows',
        rowsAffected: [3, 2],
      })
      expect(seen[0]?.preview?.sample?.[0]).toMatchObject({ '#': 1, id: '1', ssn: R })
      expect(seen[0]?.preview?.sample?.at(-1)).toMatchObject({ '#': 2, qty: '5' })
      await client.query('INSERT INTO items VALUES ($1, $2, $3), ($4, $5, $6)', [7, 3, 1, 8, 3, 1])
      expect(seen[1]?.preview).toMatchObject({ summary: 'INSERT items: 2 rows', rowsAffected: [2] })
      await client.query(
        'MERGE INTO items i USING (VALUES (7, 9), (9, 4)) AS s(id, qty) ON i.id = s.id WHEN MATCHED THEN UPDATE SET qty = s.qty WHEN NOT MATCHED THEN INSERT VALUES (s.id, 3, s.qty)',
      )
      expect(seen[2]?.preview).toMatchObject({ summary: 'MERGE items: 2 rows', rowsAffected: [2] })
      expect(seen[2]?.preview?.sample).toBeUndefined() // MERGE has no RETURNING on this server
      expect((await db('SELECT id, qty FROM items WHERE order_id = 3 ORDER BY id')).rows).toEqual([
        { id: 7, qty: 9 },
        { id: 8, qty: 1 },
        { id: 9, qty: 4 },
      ])
    } finally {
      await client.end()
    }
  })
})

describe('writing CTEs', () => {
  it('count the top-level statement and check every written table', async () => {
    await pool.query(
      'WITH moved AS (DELETE FROM items WHERE order_id = 1 RETURNING id) INSERT INTO scratch SELECT id FROM moved',
    )
    expect(seen[0]?.preview).toMatchObject({ summary: 'INSERT scratch: 2 rows', rowsAffected: [2] })
    expect(seen[0]?.preview?.sample).toEqual([{ id: '1' }, { id: '2' }])
    await pool.query('WITH gone AS (DELETE FROM child RETURNING id) UPDATE items SET qty = 0 WHERE id = 3')
    expect(seen[1]?.preview?.summary).toMatch(/^no preview: child has trigger child_log/)
  })
})

describe('the approved run is held to the previewed effect', () => {
  it('pool: a concurrent change between preview and approval rolls the approved run back (ERR_WARDEN_PREVIEW_MISMATCH)', async () => {
    decide = async () => {
      await db("INSERT INTO orders VALUES (5, 'eve', 'pending', NULL, NULL, NULL)")
      return true
    }
    const error = await pool.query("UPDATE orders SET status = 'shipped' WHERE status = 'pending'").then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(WardenError)
    expect(error).toMatchObject({ code: 'ERR_WARDEN_PREVIEW_MISMATCH' })
    expect((error as Error).message).toMatch(/affected 4 row\(s\) where the approved preview showed 3/)
    expect(seen[0]?.preview?.rowsAffected).toEqual([3])
    expect(await statuses()).toEqual([...PENDING, { id: 5, status: 'pending' }])
    const record = last()
    expect(record?.approval).toMatchObject({ status: 'approved' })
    expect(record?.outcome).toMatchObject({ status: 'error', code: 'ERR_WARDEN_PREVIEW_MISMATCH' })
    expect(record?.outcome.rows).toBeUndefined()
    // The pool still works afterwards.
    expect((await pool.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 5 }])
  })

  it('client: the same guard; the callback and the next queued query see a consistent connection', async () => {
    const client = new Client(session, { ...PG, database, resource: 'shop' })
    await client.connect()
    try {
      decide = async () => {
        await db('DELETE FROM items WHERE id = 1')
        return true
      }
      const failed = new Promise<unknown>((resolve) => {
        client.query('DELETE FROM items WHERE order_id = 1', (err: Error | null) => resolve(err))
      })
      const after = client.query('SELECT count(*)::int AS n FROM items') // queued behind the held write
      expect(await failed).toMatchObject({ code: 'ERR_WARDEN_PREVIEW_MISMATCH' })
      expect((await after).rows).toEqual([{ n: 2 }])
      expect((await client.query('SHOW transaction_isolation')).rows).toHaveLength(1)
      expect(await openTransactions()).toBe(0)
      // A matching count commits.
      decide = async () => true
      await client.query('DELETE FROM items WHERE order_id = 1')
      expect((await db('SELECT id FROM items ORDER BY id')).rows).toEqual([{ id: 3 }])
    } finally {
      await client.end()
    }
  })
})

describe('statements that are not safe to run and roll back get no preview, and still go to the approver', () => {
  const cases: [string, RegExp][] = [
    ['VACUUM orders', /^no preview: VACUUM is not a plain INSERT, UPDATE, DELETE or MERGE/],
    ['CREATE INDEX CONCURRENTLY orders_customer ON orders (customer)', /^no preview: CREATE is not a plain/],
    [
      "INSERT INTO orders VALUES (nextval('order_ids'), 'seq', 'pending', NULL, NULL, NULL)",
      /^no preview: it calls nextval\(\)/,
    ],
    [
      "UPDATE orders SET note = pg_notify('ch', 'x')::text WHERE id = 1",
      /^no preview: it calls pg_notify\(\)/,
    ],
    ["UPDATE audited SET v = 'b' WHERE id = 1", /^no preview: audited has trigger audited_log/],
    ['INSERT INTO stamped (id) VALUES (1)', /^no preview: a default, check or policy calls stamp\(\)/],
    ['DELETE FROM parent WHERE id = 1', /^no preview: child has trigger child_log/],
    ["DELETE FROM events WHERE at < '2024-06-01'", /^no preview: events_2024 has trigger events_log/],
    ["UPDATE pending SET status = 'x' WHERE id = 1", /^no preview: pending is a view/],
    [
      'UPDATE orders SET note = public.stamp() WHERE id = 1',
      /^no preview: it calls public\.stamp, which may have effects/,
    ],
    [
      "DO $$ BEGIN UPDATE orders SET note = 'do' WHERE id = 1; END $$",
      /^no preview: the statement uses do_block/,
    ],
  ]
  for (const [text, summary] of cases) {
    it(text, async () => {
      await pool.query(text)
      expect(seen).toHaveLength(1)
      expect(seen[0]?.command).toBe(text)
      expect(seen[0]?.preview?.summary).toMatch(summary)
      expect(seen[0]?.preview?.rowsAffected).toBeUndefined()
      expect(last()?.outcome.status).toBe('ok')
    })
  }

  it('the approved nextval insert ran once: the preview consumed no sequence value', async () => {
    const state = (
      await db<{ v: number; called: boolean }>(
        'SELECT last_value::int AS v, is_called AS called FROM order_ids',
      )
    ).rows[0]
    const next = state?.called ? (state?.v ?? 0) + 1 : state?.v
    await pool.query("INSERT INTO orders VALUES (nextval('order_ids'), 'seq', 'pending', NULL, NULL, NULL)")
    expect((await db("SELECT id FROM orders WHERE customer = 'seq'")).rows).toEqual([{ id: next }])
  })

  it('a statement that fails in the dry run says so, with masked values kept out', async () => {
    decide = async () => false
    await expect(
      pool.query(`UPDATE orders SET ssn = '${SSNS[4]}' WHERE status = 'pending'`),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_REJECTED',
    })
    expect(seen[0]?.preview?.summary).toMatch(
      /^no preview: the statement fails in a dry run: duplicate key value/,
    )
    expect(JSON.stringify(seen[0]?.preview)).not.toContain('111-22-333')
  })

  it('reads held for approval carry no preview at all', async () => {
    const w2 = createWarden({
      policy: compilePolicy(`
defaults: { effect: approve, approval: { approvers: [dba] } }
rules: []
`),
      broker: stubBroker({ username: 'postgres' }),
      audit: memorySink(),
      approvals: callbackApprover(async (request) => {
        seen.push(request)
        return true
      }),
    })
    const s2 = await w2.session({ principal: { id: 'reader', type: 'agent', groups: [] } })
    const p2 = new Pool(s2, { ...PG, database, resource: 'shop', max: 1 })
    try {
      expect((await p2.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 4 }])
      expect(seen[0]?.preview).toBeUndefined()
      expect(p2.totalCount).toBe(1) // no connection was taken for a preview
    } finally {
      await p2.end()
      await w2.close()
    }
  })
})

describe("inside the caller's own transaction", () => {
  let client: pg.PoolClient & Client
  beforeEach(async () => {
    client = await pool.connect()
  })
  afterEach(async () => {
    await client.query('ROLLBACK').catch(() => {}) // a failed test must not leave its transaction open
    client.release()
  })

  it('the preview uses a savepoint, sees the transaction so far, and leaves it intact; the approved run joins it', async () => {
    await client.query('BEGIN')
    await client.query('INSERT INTO scratch VALUES (1)')
    await client.query("SET LOCAL statement_timeout = '12345ms'")
    await client.query('UPDATE scratch SET id = 2 WHERE id = 1') // allowed, uncommitted
    let during: unknown
    decide = async () => {
      during = await statuses()
      return true
    }
    await client.query(
      "UPDATE orders SET status = 'packed' WHERE status = 'pending' OR id = (SELECT id + 2 FROM scratch)",
    )
    expect(seen[0]?.preview).toMatchObject({ summary: 'UPDATE orders: 4 rows', rowsAffected: [4] })
    expect(during).toEqual(PENDING)
    // The caller's transaction is still open, with its settings and rows.
    expect((await client.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '12345ms' }])
    expect((await client.query('SELECT id FROM scratch')).rows).toEqual([{ id: 2 }])
    expect(await statuses()).toEqual(PENDING) // not committed yet
    await client.query('COMMIT')
    expect((await db('SELECT status FROM orders ORDER BY id')).rows.map((r) => r.status)).toEqual([
      'packed',
      'packed',
      'packed',
      'packed',
    ])
    expect((await db('SELECT id FROM scratch')).rows).toEqual([{ id: 2 }])
  })

  it('a mismatch rolls back to the savepoint only: the caller can go on and commit its own work', async () => {
    await client.query('BEGIN')
    await client.query('INSERT INTO scratch VALUES (7)')
    decide = async () => {
      await db("INSERT INTO orders VALUES (6, 'fay', 'pending', NULL, NULL, NULL)")
      return true
    }
    await expect(
      client.query("UPDATE orders SET status = 'gone' WHERE status = 'pending'"),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_PREVIEW_MISMATCH',
    })
    expect((await client.query('SELECT id FROM scratch')).rows).toEqual([{ id: 7 }])
    await client.query('COMMIT')
    expect((await db("SELECT count(*)::int AS n FROM orders WHERE status = 'gone'")).rows).toEqual([{ n: 0 }])
    expect((await db('SELECT id FROM scratch')).rows).toEqual([{ id: 7 }])
  })

  it('in a failed transaction there is no preview, and the statement fails as it would', async () => {
    await client.query('BEGIN')
    await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' })
    await expect(client.query("UPDATE orders SET status = 'x' WHERE id = 1")).rejects.toMatchObject({
      code: '25P02',
    })
    expect(seen[0]?.preview?.summary).toBe('no preview: the transaction on this connection has failed')
    await client.query('ROLLBACK')
    expect(await statuses()).toEqual(PENDING)
  })
})

describe('configuration', () => {
  it('preview: false turns previews off; a custom hook replaces the built-in one (no guard)', async () => {
    const off = new Pool(session, { ...PG, database, resource: 'shop', max: 1, preview: false })
    const calls: string[] = []
    const custom = new Client(session, {
      ...PG,
      database,
      resource: 'shop',
      preview: async ({ text, sql, masker }) => {
        calls.push(`${sql.types.join(',')} ${text}`)
        expect(masker?.plan([{ name: 'ssn', table: 'public.orders' }]).active).toBe(true)
        return { summary: 'custom', rowsAffected: [99] }
      },
    })
    await custom.connect()
    try {
      await off.query("UPDATE orders SET note = 'off' WHERE id = 1")
      expect(seen[0]?.preview).toBeUndefined()
      await custom.query("UPDATE orders SET note = 'custom' WHERE id = 2")
      expect(calls).toEqual(["UPDATE UPDATE orders SET note = 'custom' WHERE id = 2"])
      expect(seen[1]?.preview).toEqual({ summary: 'custom', rowsAffected: [99] })
      expect((await db('SELECT note FROM orders WHERE id IN (1, 2) ORDER BY id')).rows).toEqual([
        { note: 'off' },
        { note: 'custom' },
      ])
    } finally {
      await off.end()
      await custom.end()
    }
    expect(() => new Pool(session, { ...PG, resource: 'x', preview: 'yes' as never })).toThrow(TypeError)
  })

  it('a Submittable (pg.Query) held for approval gets no built-in preview', async () => {
    const client = new Client(session, { ...PG, database, resource: 'shop' })
    await client.connect()
    try {
      await new Promise<void>((resolve, reject) => {
        const q = client.query(new pg.Query("UPDATE orders SET note = 'q' WHERE id = 3"))
        q.on('end', () => resolve())
        q.on('error', reject)
      })
      expect(seen[0]?.preview).toBeUndefined()
    } finally {
      await client.end()
    }
  })

  it('the RETURNING * the preview adds falls back to counts alone where the role may not read every column', async () => {
    const role = `wp_${randomBytes(4).toString('hex')}`
    await db(`CREATE ROLE ${role} LOGIN; GRANT SELECT (id, status), UPDATE (status) ON orders TO ${role}`)
    const w3 = createWarden({
      policy: compilePolicy(POLICY),
      broker: stubBroker({ username: role }),
      audit: memorySink(),
      approvals: callbackApprover(async (request) => {
        seen.push(request)
        return true
      }),
    })
    const s3 = await w3.session({ principal: { id: 'narrow', type: 'agent', groups: [] } })
    const p3 = new Pool(s3, { ...PG, database, resource: 'shop', max: 1 })
    try {
      await p3.query("UPDATE orders SET status = 'seen' WHERE id = 1")
      expect(seen[0]?.preview).toMatchObject({ summary: 'UPDATE orders: 1 row', rowsAffected: [1] })
      expect(seen[0]?.preview?.sample).toBeUndefined()
      expect((await db('SELECT status FROM orders WHERE id = 1')).rows).toEqual([{ status: 'seen' }])
    } finally {
      await p3.end()
      await w3.close()
      await db(`REVOKE ALL ON orders FROM ${role}; DROP ROLE ${role}`)
    }
  })
})

describe('bound values: what the approver sees is what runs', () => {
  it('the approver sees the values (detector-masked), they are bound into the fingerprint, and a caller changing its array or objects meanwhile changes nothing', async () => {
    const requests: ApprovalRequest[] = []
    let release!: (ok: boolean) => void
    const audit = memorySink()
    const w = createWarden({
      policy: compilePolicy(`${POLICY}
  - name: secrets
    when: 'true'
    detectors: [us_ssn]
    strategy: redact
`),
      broker: stubBroker({ username: 'postgres' }),
      audit,
      approvals: callbackApprover(async (request) => {
        requests.push(request)
        return new Promise<boolean>((resolve) => {
          release = resolve
        })
      }),
    })
    const s = await w.session({ principal: { id: 'agent', type: 'agent', groups: [] } })
    const p = new Pool(s, { ...PG, database, resource: 'shop', max: 1 })
    try {
      const values: unknown[] = ['cancelled', 1, { reason: 'ok' }, '123-45-6789']
      const text =
        'UPDATE orders SET status = $1, note = $3::jsonb ->> $$reason$$ WHERE id = $2 AND $4::text IS NOT NULL'
      const done = p.query(text, values)
      await vi.waitFor(() => expect(requests).toHaveLength(1))
      // What the approver is asked: the text, and each value as it will be sent (an SSN masked).
      expect(requests[0]).toMatchObject({
        command: text,
        parameters: ['cancelled', '1', '{"reason":"ok"}', R],
      })
      expect(requests[0].parametersDigest).toMatch(/^sha256:[0-9a-f]{64}$/)
      // The caller changes its array and the object in it while the approval is pending.
      values[0] = 'refunded-everything'
      values[1] = 4
      ;(values[2] as { reason: string }).reason = 'changed'
      release(true)
      await done
      expect(await statuses()).toEqual([{ id: 1, status: 'cancelled' }, ...PENDING.slice(1)])
      expect((await db('SELECT note FROM orders WHERE id = 1')).rows[0]).toEqual({ note: 'ok' })
      // Values bind the fingerprint: the same text with other values is another operation.
      const again = p.query(text, ['cancelled', 2, { reason: 'ok' }, '123-45-6789'])
      await vi.waitFor(() => expect(requests).toHaveLength(2))
      expect(requests[1].fingerprint).not.toBe(requests[0].fingerprint)
      release(false)
      await expect(again).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED' })
      // The record never carries the values.
      const lines = audit.lines.join('\n')
      expect(lines).not.toContain('123-45-6789')
      expect(lines).not.toContain('cancelled')
    } finally {
      await p.end()
      await w.close()
    }
  })
})

describe('planPreview (from the parsed facts alone)', () => {
  const plan = async (text: string) => {
    const result = planPreview(await describePostgres(text))
    return isPlan(result) ? result : result?.preview.summary
  }

  it('adds RETURNING * after the last token, never inside a trailing comment or string', async () => {
    expect(await plan("UPDATE orders SET note = 'RETURNING' WHERE id = 1 -- done")).toMatchObject({
      text: "UPDATE orders SET note = 'RETURNING' WHERE id = 1 RETURNING * -- done",
      labels: ['UPDATE orders'],
      targets: ['"orders"'],
    })
    expect(await plan('DELETE FROM "Ordérs" /* all */;')).toMatchObject({
      text: 'DELETE FROM "Ordérs" RETURNING * /* all */;',
      targets: ['"Ordérs"'],
    })
    expect(await plan('INSERT INTO s.t DEFAULT VALUES; UPDATE t SET a = 1 RETURNING a')).toMatchObject({
      text: 'INSERT INTO s.t DEFAULT VALUES RETURNING *; UPDATE t SET a = 1 RETURNING a',
      labels: ['INSERT s.t', 'UPDATE t'],
      targets: ['"s"."t"', '"t"'],
    })
  })

  it('keeps a statement that has its own RETURNING as written', async () => {
    const text = 'DELETE FROM items WHERE id = $1 RETURNING id'
    expect(await plan(text)).toMatchObject({ text, original: text })
  })

  it('refuses what is not a plain DML statement on built-in functions, and skips reads', async () => {
    expect(await plan('SELECT * FROM orders')).toBeUndefined()
    expect(await plan('TRUNCATE orders')).toMatch(/^no preview: TRUNCATE is not a plain/)
    expect(await plan('COPY orders FROM STDIN')).toMatch(/^no preview: COPY is not a plain/)
    expect(await plan("INSERT INTO t SELECT * FROM dblink('x', 'select 1') AS r(a int)")).toMatch(
      /^no preview: the statement uses dynamic_sql/,
    )
    expect(await plan('UPDATE t SET a = pg_catalog.pg_advisory_lock(1)')).toMatch(
      /^no preview: it calls pg_advisory_lock\(\)/,
    )
    expect(await plan('UPDATE t SET a = app.compute(1)')).toMatch(/^no preview: it calls app\.compute, which/)
    expect(await plan('UPDATE t SET a = lower(b), c = pg_catalog.upper(d), e = now()')).toMatchObject({
      functions: expect.arrayContaining(['lower', 'upper', 'now']),
    })
    expect(await plan('UPDATE t SET')).toBe('no preview: the statement could not be parsed')
  })
})
