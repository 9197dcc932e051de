// Every query shape of the guarded pg Client and Pool against the real PostgreSQL on 127.0.0.1:5432.

import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { inspect } from 'node:util'
import { callbackApprover, createWarden, type Session, type Warden, WardenDeniedError } from '@warden/core'
import { type MemorySink, memorySink, stubBroker } from '@warden/core/testing'
import { Client, Pool } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import pg from 'pg'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
import Cursor from 'pg-cursor'
import QueryStream from 'pg-query-stream'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { admin, createDatabase, dropDatabase, PG, POLICY, SCHEMA } from './helpers.js'

let database: string
let warden: Warden
let sink: MemorySink
let broker: ReturnType<typeof stubBroker>
let session: Session
let approvals: { approve: boolean; seen: string[] }

beforeAll(async () => {
  database = await createDatabase('warden_pg_shapes')
  await admin((c) => c.query(SCHEMA), database)
  sink = memorySink()
  broker = stubBroker({ username: 'postgres', ttlMs: 60_000 })
  approvals = { approve: true, seen: [] }
  warden = createWarden({
    policy: compilePolicy(POLICY),
    broker,
    audit: sink,
    approvals: callbackApprover(async (request) => {
      approvals.seen.push(request.command)
      return approvals.approve
    }),
  })
  session = await warden.session({ principal: { id: 'svc-test', type: 'service', groups: [] } })
})

afterAll(async () => {
  await warden?.close()
  if (database) await dropDatabase(database)
})

function newClient(): Client {
  return new Client(session, { ...PG, database, resource: 'shapes' })
}

describe('Client query shapes', () => {
  let client: Client
  beforeAll(async () => {
    client = newClient()
    await client.connect()
  })
  afterAll(async () => {
    await client.end()
  })
  beforeEach(() => {
    approvals.approve = true
  })

  it('text, promise', async () => {
    const r = await client.query('SELECT id, name FROM customers ORDER BY id')
    expect(r.rows).toEqual([
      { id: 1, name: 'Ada' },
      { id: 2, name: 'Bob' },
      { id: 3, name: 'Cy' },
    ])
    const record = sink.commands().at(-1)
    expect(record?.command).toBe('SELECT id, name FROM customers ORDER BY id')
    expect(record?.outcome?.status).toBe('ok')
    expect(record?.outcome?.rows).toBe(3)
    expect((record?.facts as { reads?: string[] } | undefined)?.reads).toEqual(['customers'])
  })

  it('text + values, promise (values never audited)', async () => {
    const r = await client.query('SELECT name FROM customers WHERE id = $1', [2])
    expect(r.rows).toEqual([{ name: 'Bob' }])
    expect(JSON.stringify(sink.records)).not.toContain('"values"')
  })

  it('text + callback and text + values + callback', async () => {
    const a = await new Promise<pg.QueryResult>((resolve, reject) =>
      client.query('SELECT 1 AS one', (err: Error | null, res: pg.QueryResult) =>
        err ? reject(err) : resolve(res),
      ),
    )
    expect(a.rows).toEqual([{ one: 1 }])
    const b = await new Promise<pg.QueryResult>((resolve, reject) =>
      client.query('SELECT $1::int + 1 AS two', [1], (err: Error | null, res: pg.QueryResult) =>
        err ? reject(err) : resolve(res),
      ),
    )
    expect(b.rows).toEqual([{ two: 2 }])
    expect(client.query('SELECT 1', () => {})).toBeUndefined()
  })

  it('config object: named prepared statement, rowMode array, types', async () => {
    const config = {
      name: 'by-id',
      text: 'SELECT id, total FROM orders WHERE id = $1',
      values: [10],
      rowMode: 'array' as const,
    }
    const first = await client.query(config)
    expect(first.rows).toEqual([[10, '99.5']])
    const again = await client.query({ ...config, values: [11] })
    expect(again.rows).toEqual([[11, '5']])
    const typed = await client.query({
      text: 'SELECT total FROM orders WHERE id = 10',
      types: { getTypeParser: () => (v: string) => `typed:${v}` } as unknown as pg.CustomTypesConfig,
    })
    expect(typed.rows).toEqual([{ total: 'typed:99.5' }])
  })

  it('a named statement without its text reuses the text the connection prepared', async () => {
    const r = await client.query({ name: 'by-id', values: [10] } as pg.QueryConfig)
    expect(r.rows).toEqual([{ id: 10, total: '99.5' }])
    const err = await client.query({ name: 'never-prepared', values: [1] } as pg.QueryConfig).catch((e) => e)
    expect(err).toBeInstanceOf(WardenDeniedError)
    expect(err).toMatchObject({ rule: 'warden:describe' })
    // The driver's refusal is a decision of core's built-in rule: audited as denied, never run.
    expect(sink.last()).toMatchObject({
      command: '',
      decision: { effect: 'deny', rule: 'warden:describe' },
      outcome: { status: 'denied' },
    })
    // The connection goes on.
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('multi-statement text returns one result per statement', async () => {
    const r = (await client.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as pg.QueryResult[]
    expect(r.map((x) => x.rows)).toEqual([[{ a: 1 }], [{ b: 2 }]])
  })

  it('pg.Query submittable with row events', async () => {
    const rows: unknown[] = []
    const query = client.query(new pg.Query('SELECT id FROM customers ORDER BY id'))
    query.on('row', (row: unknown) => rows.push(row))
    await new Promise((resolve, reject) => query.on('end', resolve).on('error', reject))
    expect(rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }])
  })

  it('pg-cursor', async () => {
    const cursor = client.query(new Cursor('SELECT id FROM customers ORDER BY id'))
    const batch = await cursor.read(2)
    expect(batch).toEqual([{ id: 1 }, { id: 2 }])
    expect(await cursor.read(2)).toEqual([{ id: 3 }])
    await cursor.close()
  })

  it('pg-query-stream', async () => {
    const rows: unknown[] = []
    const stream = client.query(new QueryStream('SELECT id FROM customers WHERE id < $1 ORDER BY id', [3]))
    for await (const row of stream) rows.push(row)
    expect(rows).toEqual([{ id: 1 }, { id: 2 }])
  })

  it('COPY FROM STDIN and COPY TO STDOUT (no masks on these columns)', async () => {
    await client.query('CREATE TEMP TABLE t_copy (a int, b text)')
    await pipeline(Readable.from(['1\tone\n', '2\ttwo\n']), client.query(copyFrom('COPY t_copy FROM STDIN')))
    const chunks: Buffer[] = []
    await pipeline(
      client.query(copyTo('COPY t_copy TO STDOUT')),
      new Writable({
        write(chunk, _e, cb) {
          chunks.push(chunk)
          cb()
        },
      }),
    )
    expect(Buffer.concat(chunks).toString()).toBe('1\tone\n2\ttwo\n')
  })

  it('queries issued without awaiting run in call order', async () => {
    const order: number[] = []
    const all = [0, 1, 2, 3, 4].map((i) =>
      client.query(`SELECT ${i} AS i`).then((r) => order.push(r.rows[0].i)),
    )
    await Promise.all(all)
    expect(order).toEqual([0, 1, 2, 3, 4])
  })

  it('a denied query rejects with WardenDeniedError and the connection stays usable', async () => {
    const err = await client.query('DROP TABLE customers').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WardenDeniedError)
    expect((err as WardenDeniedError).code).toBe('ERR_WARDEN_DENIED')
    expect((err as WardenDeniedError).rule).toBe('destructive-sql')
    expect((err as WardenDeniedError).reason).toBe('destructive statements are blocked')
    expect(sink.commands().at(-1)?.outcome?.status).toBe('denied')
    expect((await client.query('SELECT count(*)::int AS n FROM customers')).rows).toEqual([{ n: 3 }])
  })

  it('denials reach callbacks, cursors and streams too', async () => {
    const viaCallback = await new Promise<Error | null>((resolve) =>
      client.query('DELETE FROM orders', (err: Error | null) => resolve(err)),
    )
    expect(viaCallback).toBeInstanceOf(WardenDeniedError)
    const cursor = client.query(new Cursor('SELEC 1'))
    await expect(cursor.read(1)).rejects.toBeInstanceOf(WardenDeniedError)
    const stream = client.query(new QueryStream('UPDATE orders SET total = 0'))
    await expect(
      (async () => {
        for await (const _ of stream) {
        }
      })(),
    ).rejects.toBeInstanceOf(WardenDeniedError)
    const copy = client.query(copyTo('TRUNCATE orders'))
    await expect(pipeline(copy, new Writable({ write: (_c, _e, cb) => cb() }))).rejects.toBeInstanceOf(
      WardenDeniedError,
    )
    expect((await client.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 2 }])
  })

  it('an unparseable statement is denied, never sent', async () => {
    await expect(client.query('SEL/**/ECT 1')).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'unparsed-sql',
    })
  })

  it("the describer limits are the client's to set: text over describe.maxLength is unparsed, denied", async () => {
    const tight = new Client(session, { ...PG, database, resource: 'shapes', describe: { maxLength: 40 } })
    await tight.connect()
    try {
      expect((await tight.query('SELECT 1 AS short')).rows).toEqual([{ short: 1 }])
      await expect(tight.query('SELECT 1 AS a_name_long_enough_to_pass_the_cap')).rejects.toMatchObject({
        code: 'ERR_WARDEN_DENIED',
        rule: 'unparsed-sql',
      })
      expect(sink.commands().at(-1)?.facts).toMatchObject({
        parsed: false,
        error: expect.stringContaining('longer than 40'),
      })
    } finally {
      await tight.end()
    }
    const pool = new Pool(session, { ...PG, database, resource: 'shapes', describe: { maxDepth: 5 } })
    try {
      await expect(pool.query('SELECT 1 + (2 + (3 + (4 + (5 + 6))))')).rejects.toMatchObject({
        code: 'ERR_WARDEN_DENIED',
      })
      expect((await pool.query('SELECT 1 AS flat')).rows).toEqual([{ flat: 1 }])
    } finally {
      await pool.end()
    }
    expect(() => new Client(session, { resource: 'x', describe: { maxLength: 0 } })).toThrow(
      /describe.maxLength/,
    )
    expect(() => new Pool(session, { resource: 'x', describe: { maxDepth: 1.5 } })).toThrow(
      /describe.maxDepth/,
    )
  })

  it('database errors reach the caller and are audited as errors', async () => {
    await expect(client.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' })
    expect(sink.commands().at(-1)?.outcome?.status).toBe('error')
    expect((await client.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }])
  })

  it('approve: the held write runs after approval; a rejection never reaches the server', async () => {
    approvals.approve = true
    await client.query("UPDATE held SET v = 'b' WHERE id = 1")
    expect(approvals.seen.at(-1)).toBe("UPDATE held SET v = 'b' WHERE id = 1")
    approvals.approve = false
    await expect(client.query("UPDATE held SET v = 'c' WHERE id = 1")).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_REJECTED',
    })
    const rows = await admin((c) => c.query('SELECT v FROM held'), database)
    expect(rows.rows).toEqual([{ v: 'b' }])
  })

  it('raw wire access is refused by the tripwire', () => {
    const connection = (client as unknown as { connection: { query(t: string): void } }).connection
    expect(() => connection.query('DELETE FROM customers')).toThrow(/without passing Warden/)
  })
})

describe('Client construction and credentials', () => {
  it('rejects a password, a missing resource, and a non-session', () => {
    expect(() => new Client(session, { resource: 'x', password: 'p' } as never)).toThrow(/password/)
    expect(() => new Client(session, {} as never)).toThrow(/resource/)
    expect(() => new Client({} as never, { resource: 'x' })).toThrow(/current/)
  })

  it('leaves no password on the client, in inspect output or in audit records', async () => {
    const client = newClient()
    await client.connect()
    const raw = client as unknown as { password: unknown; connectionParameters: { password: unknown } }
    expect(raw.password).toBeNull()
    expect(raw.connectionParameters.password).toBeNull()
    expect(inspect(client, { depth: 6, showHidden: true })).not.toContain(broker.canary)
    expect(JSON.stringify(sink.records)).not.toContain(broker.canary)
    await client.end()
  })

  it('without a session (Warden as source, outside session.run) the query fails with ERR_WARDEN_NO_SESSION', async () => {
    const client = new Client(warden, { ...PG, database, resource: 'shapes' })
    await expect(client.connect()).rejects.toMatchObject({ code: 'ERR_WARDEN_NO_SESSION' })
    await session.run(() => client.connect())
    await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_WARDEN_NO_SESSION' })
    const r = await session.run(() => client.query('SELECT 1 AS x'))
    expect(r.rows).toEqual([{ x: 1 }])
    await client.end()
  })

  it("a Client connected in one principal's session never runs another's queries on its credential", async () => {
    const client = new Client(warden, { ...PG, database, resource: 'shapes' })
    const alice = await warden.session({ principal: { id: 'alice', type: 'service', groups: ['readers'] } })
    const bob = await warden.session({ principal: { id: 'bob', type: 'service', groups: ['readers'] } })
    // Same id, other groups: a policy (or a broker) tells them apart, so the connection does too.
    const alice2 = await warden.session({ principal: { id: 'alice', type: 'service', groups: ['admins'] } })
    try {
      await alice.run(() => client.connect())
      const ok = await alice.run(() => client.query('SELECT 1 AS x'))
      expect(ok.rows).toEqual([{ x: 1 }])
      // Every command on the connection names the lease it runs on.
      const leaseId = sink.last()?.lease
      expect(leaseId).toEqual(expect.any(String))
      for (const other of [bob, alice2]) {
        const err = await other.run(() => client.query('SELECT 2 AS y')).catch((e) => e)
        expect(err).toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'warden:connection-owner' })
        expect(sink.last()).toMatchObject({
          principal: { id: other.principal.id, groups: other.principal.groups },
          command: 'SELECT 2 AS y',
          decision: { effect: 'deny', rule: 'warden:connection-owner' },
          outcome: { status: 'denied' },
        })
      }
      // The owner goes on using it.
      expect((await alice.run(() => client.query('SELECT 3 AS z'))).rows).toEqual([{ z: 3 }])
      expect(sink.last()).toMatchObject({ lease: leaseId, outcome: { status: 'ok' } })
    } finally {
      await client.end()
      await Promise.all([alice.close(), bob.close(), alice2.close()])
    }
  })
})

describe('Pool', () => {
  let pool: Pool
  beforeAll(() => {
    pool = new Pool(session, { ...PG, database, resource: 'shapes', max: 3 })
  })
  afterAll(async () => {
    await pool.end()
  })

  it('pool.query: promise and callback', async () => {
    expect((await pool.query('SELECT name FROM customers WHERE id = $1', [1])).rows).toEqual([
      { name: 'Ada' },
    ])
    const rows = await new Promise((resolve, reject) =>
      pool.query('SELECT 2 AS two', (err: Error | null, r: pg.QueryResult) =>
        err ? reject(err) : resolve(r.rows),
      ),
    )
    expect(rows).toEqual([{ two: 2 }])
  })

  it('pool.query denial takes no connection', async () => {
    const before = pool.totalCount
    await expect(pool.query('TRUNCATE customers')).rejects.toBeInstanceOf(WardenDeniedError)
    expect(pool.totalCount).toBe(before)
  })

  it('pool.connect clients are guarded', async () => {
    const client = await pool.connect()
    try {
      await expect(client.query('DROP TABLE orders')).rejects.toBeInstanceOf(WardenDeniedError)
      expect((await client.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 2 }])
      const cursor = client.query(new Cursor('SELECT id FROM orders ORDER BY id'))
      expect(await cursor.read(5)).toEqual([{ id: 10 }, { id: 11 }])
      await cursor.close()
    } finally {
      client.release()
    }
  })

  it('an approval in pool.query holds no connection while it waits', async () => {
    let release!: (v: boolean) => void
    const waiting = new Promise<boolean>((r) => {
      release = r
    })
    const w2 = createWarden({
      policy: compilePolicy(POLICY),
      broker: stubBroker({ username: 'postgres' }),
      audit: memorySink(),
      approvals: callbackApprover(() => waiting),
    })
    const s2 = await w2.session({ principal: { id: 'agent', type: 'agent', groups: [] } })
    const p2 = new Pool(s2, { ...PG, database, resource: 'shapes', max: 1 })
    const held = p2.query("UPDATE held SET v = 'z' WHERE id = 1")
    // With max 1, other queries still run while the write waits for a human.
    expect((await p2.query('SELECT 1 AS free')).rows).toEqual([{ free: 1 }])
    expect((await p2.query('SELECT 2 AS still')).rows).toEqual([{ still: 2 }])
    release(true)
    await held
    expect((await admin((c) => c.query('SELECT v FROM held'), database)).rows).toEqual([{ v: 'z' }])
    await p2.end()
    await w2.close()
  })
})
