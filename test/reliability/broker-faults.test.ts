// Broker faults: down, slow, or answering garbage. New credentials fail closed with ERR_WARDEN_BROKER
// (the command never runs, the denial is audited); connections on a lease already issued keep working
// until that lease expires; nothing a broker returns is ever treated as an allow.
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  type Broker,
  type Command,
  createWarden,
  httpBroker,
  type Lease,
  Secret,
  type Warden,
  WardenError,
} from '@warden/core'
import { type MemorySink, memorySink, stubBroker } from '@warden/core/testing'
import { Pool } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const PG = { host: '127.0.0.1', port: 5432 }
const POLICY = compilePolicy('defaults: { effect: allow }\nrules: []\n')
const database = `warden_rel_broker_${randomBytes(4).toString('hex')}`

async function admin<T>(fn: (c: pg.Client) => Promise<T>, db = 'postgres'): Promise<T> {
  const c = new pg.Client({ ...PG, user: 'postgres', database: db })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}
const marks = async () =>
  (await admin((c) => c.query<{ v: string }>('SELECT v FROM marks ORDER BY v'), database)).rows.map(
    (r) => r.v,
  )

/** Rejects with a WardenError of `code` (and nothing else: a plain Error or a resolve fails the test). */
async function expectCode(promise: Promise<unknown>, code: string): Promise<WardenError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected ${code}, but the command ran and returned ${JSON.stringify(value)}`)
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(WardenError)
  expect((error as WardenError).code).toBe(code)
  return error as WardenError
}

beforeAll(async () => {
  await admin((c) => c.query(`CREATE DATABASE ${database}`))
  await admin((c) => c.query('CREATE TABLE marks (v text)'), database)
})
afterAll(async () => {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
})

describe('broker down (pg Pool on a stub broker)', () => {
  let warden: Warden
  let sink: MemorySink
  let broker: ReturnType<typeof stubBroker>
  let pool: Pool

  beforeAll(() => {
    broker = stubBroker({ username: 'postgres', ttlMs: 60_000 })
    sink = memorySink()
    warden = createWarden({ policy: POLICY, broker, audit: sink, leases: { retries: 1, backoffMs: 5 } })
    pool = new Pool(warden, { ...PG, database, resource: 'orders', max: 4 })
  })
  afterAll(async () => {
    await pool.end()
    await warden.close()
  })

  it('existing leases keep serving (new physical connections included); a principal without one is refused and nothing runs', async () => {
    const alice = await warden.session({ principal: { id: 'alice', type: 'service' } })
    const bob = await warden.session({ principal: { id: 'bob', type: 'service' } })
    await alice.run(() => pool.query("INSERT INTO marks VALUES ('a1')"))
    expect(broker.issued).toBe(1)

    broker.fail()
    try {
      // Four concurrent checkouts force new physical connections; they reuse alice's cached lease.
      const clients = await alice.run(() =>
        Promise.all([pool.connect(), pool.connect(), pool.connect(), pool.connect()]),
      )
      try {
        await Promise.all(
          clients.map((c, i) => alice.run(() => c.query(`INSERT INTO marks VALUES ('a-conn-${i}')`))),
        )
      } finally {
        for (const c of clients) c.release()
      }
      await alice.run(() => pool.query("INSERT INTO marks VALUES ('a2')"))

      const error = await expectCode(
        bob.run(() => pool.query("INSERT INTO marks VALUES ('b1')")),
        'ERR_WARDEN_BROKER',
      )
      expect(error.message).toMatch(/broker/)
      expect(error.message).not.toContain(broker.canary)
      // The pool leases inside the command (when it opens a connection); a command refused for
      // want of a credential is audited `denied`, as with `{lease: true}`, with the broker's code.
      const refused = sink.expectRecord({
        principal: { id: 'bob' },
        command: "INSERT INTO marks VALUES ('b1')",
      })
      expect(refused.outcome?.code).toBe('ERR_WARDEN_BROKER')
      expect(refused.outcome?.status).toBe('denied')
      expect(await marks()).toEqual(['a-conn-0', 'a-conn-1', 'a-conn-2', 'a-conn-3', 'a1', 'a2'])
    } finally {
      broker.recover()
    }
    await bob.run(() => pool.query("INSERT INTO marks VALUES ('b2')"))
    expect(await marks()).toContain('b2')
    expect(await marks()).not.toContain('b1')
    expect(sink.verify().ok).toBe(true)
    await admin((c) => c.query('DELETE FROM marks'), database)
  })

  it('once the lease in use expires, the down broker means no new connection: fail closed', async () => {
    broker.ttl(2_500)
    const carol = await warden.session({ principal: { id: 'carol', type: 'service' } })
    const short = new Pool(carol, { ...PG, database, resource: 'orders', max: 1, leaseMarginMs: 0 })
    try {
      await short.query("INSERT INTO marks VALUES ('c1')")
      const lease = broker.leases.at(-1) as Lease
      broker.fail()
      await short.query("INSERT INTO marks VALUES ('c2')") // same lease, still valid
      // Wait until the lease is past its end (no assertion on how long that takes).
      while (Date.now() <= lease.expiresAt.getTime() + 50) await new Promise((r) => setTimeout(r, 100))
      const error = await short.query("INSERT INTO marks VALUES ('c3')").then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(WardenError)
      expect(['ERR_WARDEN_BROKER', 'ERR_WARDEN_LEASE_EXPIRED']).toContain((error as WardenError).code)
      expect(await marks()).toEqual(['c1', 'c2'])
    } finally {
      broker.recover()
      broker.ttl(60_000)
      await short.end()
      await admin((c) => c.query('DELETE FROM marks'), database)
    }
  })

  it('a broker that hangs never blocks commands that already hold a lease', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const inner = stubBroker({ username: 'postgres' })
    let hanging = 0
    const held: Broker = {
      async issue(request) {
        if (request.principal.id === 'late') {
          hanging++
          await gate
        }
        return inner.issue(request)
      },
      revoke: (l) => inner.revoke(l),
    }
    const w = createWarden({ policy: POLICY, broker: held, audit: memorySink() })
    const p = new Pool(w, { ...PG, database, resource: 'orders', max: 4 })
    try {
      const early = await w.session({ principal: { id: 'early', type: 'service' } })
      const late = await w.session({ principal: { id: 'late', type: 'service' } })
      await early.run(() => p.query('SELECT 1'))
      let lateDone = false
      const pending = late
        .run(() => p.query('SELECT 2 AS two'))
        .finally(() => {
          lateDone = true
        })
      while (hanging === 0) await new Promise((r) => setTimeout(r, 5))
      for (let i = 0; i < 20; i++) await early.run(() => p.query('SELECT $1::int AS i', [i]))
      expect(lateDone).toBe(false)
      release()
      expect((await pending).rows).toEqual([{ two: 2 }])
    } finally {
      release()
      await p.end()
      await w.close()
    }
  })
})

describe('httpBroker: slow, down, or answering garbage', () => {
  type Reply = (res: http.ServerResponse) => void
  let reply: Reply
  let server: http.Server
  let url: string
  const canary = `canary-${randomBytes(8).toString('hex')}`
  const json =
    (status: number, body: unknown): Reply =>
    (res) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(typeof body === 'string' ? body : JSON.stringify(body))
    }
  const future = () => new Date(Date.now() + 60_000).toISOString()
  const good = () => ({
    id: 'l-1',
    expiresAt: future(),
    renewable: false,
    credential: { type: 'password', username: 'postgres', password: canary },
  })

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => reply(res))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  const cmd: Command = {
    resource: { kind: 'postgres', name: 'orders' },
    action: 'sql.query',
    text: 'SELECT 1',
  }

  async function attempt(r: Reply, timeoutMs = 2_000) {
    reply = r
    const sink = memorySink()
    const warden = createWarden({
      policy: POLICY,
      broker: httpBroker({ url, timeoutMs }),
      audit: sink,
      leases: { retries: 1, backoffMs: 5 },
    })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    let ran = 0
    const outcome = await session
      .execute(cmd, () => ++ran, { lease: true })
      .then(
        (v) => ({ ok: v }),
        (e: unknown) => ({ error: e }),
      )
    await warden.close()
    return { outcome, ran, sink }
  }

  const garbage: [string, Reply][] = [
    ['a 500', json(500, { error: 'boom' })],
    ['HTML with 200', (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hi</html>')],
    ['truncated JSON', json(200, '{"id":"l-1","expiresAt":')],
    ['null', json(200, 'null')],
    ['an array', json(200, [good()])],
    ['no id', json(200, { ...good(), id: undefined })],
    ['numeric id', json(200, { ...good(), id: 7 })],
    ['no expiresAt', json(200, { ...good(), expiresAt: undefined })],
    ['expiresAt not a date', json(200, { ...good(), expiresAt: 'tomorrow-ish' })],
    ['already expired', json(200, { ...good(), expiresAt: new Date(Date.now() - 1000).toISOString() })],
    ['no credential', json(200, { ...good(), credential: undefined })],
    ['unknown credential type', json(200, { ...good(), credential: { type: 'magic', value: canary } })],
    [
      'password not a string',
      json(200, { ...good(), credential: { type: 'password', username: 'u', password: { v: canary } } }),
    ],
    ['token missing', json(200, { ...good(), credential: { type: 'token' } })],
    [
      'headers not strings',
      json(200, { ...good(), credential: { type: 'headers', headers: { authorization: 42 } } }),
    ],
    ['redirect', (res) => res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end()],
  ]

  it.each(garbage)(
    '%s ⇒ ERR_WARDEN_BROKER/LEASE_EXPIRED, never run, audited as denied, no secret in the error',
    async (_, r) => {
      const { outcome, ran, sink } = await attempt(r)
      expect(ran).toBe(0)
      expect('error' in outcome).toBe(true)
      const error = (outcome as { error: unknown }).error
      expect(error).toBeInstanceOf(WardenError)
      expect(['ERR_WARDEN_BROKER', 'ERR_WARDEN_LEASE_EXPIRED']).toContain((error as WardenError).code)
      expect(String((error as Error).stack)).not.toContain(canary)
      const record = sink.commands().at(-1)
      expect(record?.outcome?.status).toBe('denied')
      expect(sink.lines.join('\n')).not.toContain(canary)
    },
  )

  it('a well-formed answer is accepted (the garbage cases above fail for the garbage, not the server)', async () => {
    const { outcome, ran } = await attempt(json(201, good()))
    expect(outcome).toEqual({ ok: 1 })
    expect(ran).toBe(1)
  })

  it('a broker slower than its timeout fails closed', async () => {
    const { outcome, ran, sink } = await attempt((res) => {
      setTimeout(() => json(201, good())(res), 1_500).unref()
    }, 200)
    expect(ran).toBe(0)
    expect((outcome as { error: WardenError }).error.code).toBe('ERR_WARDEN_BROKER')
    expect(sink.commands().at(-1)?.outcome?.status).toBe('denied')
  })

  it('a broker that is not listening fails closed', async () => {
    const sink = memorySink()
    const warden = createWarden({
      policy: POLICY,
      broker: httpBroker({ url: 'http://127.0.0.1:1/v1', timeoutMs: 1_000 }),
      audit: sink,
      leases: { retries: 0 },
    })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    await expectCode(
      session.execute(cmd, () => 'ran', { lease: true }),
      'ERR_WARDEN_BROKER',
    )
    await warden.close()
  })
})

describe('in-process broker returning garbage objects', () => {
  const canary = `canary-${randomBytes(8).toString('hex')}`
  const future = () => new Date(Date.now() + 60_000)
  const cases: [string, () => unknown][] = [
    ['undefined', () => undefined],
    ['null', () => null],
    ['a string', () => canary],
    ['no credential', () => ({ id: 'x', expiresAt: future(), renewable: false })],
    [
      'expiresAt as a string',
      () => ({
        id: 'x',
        expiresAt: future().toISOString(),
        renewable: false,
        credential: { type: 'password', username: 'postgres', password: new Secret(canary) },
      }),
    ],
    [
      'invalid Date',
      () => ({
        id: 'x',
        expiresAt: new Date(Number.NaN),
        renewable: false,
        credential: { type: 'password', username: 'postgres', password: new Secret(canary) },
      }),
    ],
    ['a rejected promise of a non-Error', () => Promise.reject(42)],
  ]

  it.each(cases)(
    '%s: the pg Pool refuses with a WardenError, runs nothing, leaks nothing',
    async (_, make) => {
      const broker = { issue: async () => make() as Lease, revoke: async () => {} } satisfies Broker
      const sink = memorySink()
      const warden = createWarden({ policy: POLICY, broker, audit: sink, leases: { retries: 0 } })
      const pool = new Pool(warden, { ...PG, database, resource: 'orders', max: 1 })
      const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
      try {
        const error = await session
          .run(() => pool.query("INSERT INTO marks VALUES ('garbage')"))
          .then(
            () => undefined,
            (e: unknown) => e,
          )
        expect(error).toBeInstanceOf(WardenError)
        expect((error as WardenError).code).toBe('ERR_WARDEN_BROKER')
        expect(String((error as Error).stack)).not.toContain(canary)
        expect(sink.lines.join('\n')).not.toContain(canary)
        expect(sink.commands().length).toBe(1)
        expect(sink.commands()[0].outcome).toMatchObject({ code: 'ERR_WARDEN_BROKER' })
        expect(sink.commands()[0].outcome?.status).toBe('denied')
        expect(await marks()).not.toContain('garbage')
      } finally {
        await pool.end()
        await warden.close()
      }
    },
  )
})

/** A broker that forwards to `inner` until `down` is set, then fails every issue (as a sealed vault would). */
function switchable(inner: Broker): Broker & { down: boolean; issued: number } {
  const b = {
    down: false,
    issued: 0,
    async issue(request: Parameters<Broker['issue']>[0]) {
      if (b.down) throw new Error('vault sealed')
      b.issued++
      return inner.issue(request)
    },
    revoke: (lease: Lease) => inner.revoke(lease),
  }
  return b
}

describe('broker down, the other drivers: leases in hand keep serving, new ones are refused', () => {
  it('mysql pool (real MariaDB users from mysqlUserBroker)', async () => {
    const { createPool, mysqlUserBroker } = await import('@warden/drivers/mysql')
    const mysql = (await import('mysql2/promise')).default
    const db = `wd_relbrk_${randomBytes(3).toString('hex')}`
    const root = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' })
    await root.query(`CREATE DATABASE \`${db}\``)
    await root.query(`CREATE TABLE \`${db}\`.marks (v VARCHAR(20))`)
    const users = mysqlUserBroker({
      admin: { host: '127.0.0.1', port: 3306, user: 'root' },
      grants: [`SELECT, INSERT ON \`${db}\`.*`],
      ttl: '2m',
      prefix: `wrb${randomBytes(2).toString('hex')}_`,
    })
    const broker = switchable(users)
    const sink = memorySink()
    const warden = createWarden({ policy: POLICY, broker, audit: sink, leases: { retries: 1, backoffMs: 5 } })
    const pool = createPool(warden, { resource: 'shop', host: '127.0.0.1', database: db, connectionLimit: 4 })
    const rows = async () =>
      ((await root.query(`SELECT v FROM \`${db}\`.marks ORDER BY v`)) as [{ v: string }[], unknown])[0].map(
        (r) => r.v,
      )
    try {
      const alice = await warden.session({ principal: { id: 'alice', type: 'service' } })
      const bob = await warden.session({ principal: { id: 'bob', type: 'service' } })
      await alice.run(() => pool.query("INSERT INTO marks VALUES ('a1')"))
      broker.down = true
      // Concurrent queries open new physical connections on alice's cached lease.
      await alice.run(() =>
        Promise.all([1, 2, 3].map((i) => pool.query(`INSERT INTO marks VALUES ('a-conn-${i}')`))),
      )
      await expectCode(
        bob.run(() => pool.query("INSERT INTO marks VALUES ('b1')")),
        'ERR_WARDEN_BROKER',
      )
      sink.expectRecord({
        principal: { id: 'bob' },
        outcome: { status: 'denied', code: 'ERR_WARDEN_BROKER' },
      })
      expect(await rows()).toEqual(['a-conn-1', 'a-conn-2', 'a-conn-3', 'a1'])
      broker.down = false
      await bob.run(() => pool.query("INSERT INTO marks VALUES ('b2')"))
      expect(await rows()).toContain('b2')
    } finally {
      await pool.end()
      await warden.close()
      await users.close()
      await root.query(`DROP DATABASE IF EXISTS \`${db}\``)
      await root.end()
    }
  })

  it('fetch (a bearer token per origin from the lease cache)', async () => {
    const { createFetch } = await import('@warden/drivers/fetch')
    const seen: (string | undefined)[] = []
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"ok":true}')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const tokens = switchable({
      async issue() {
        return {
          id: `t-${randomBytes(4).toString('hex')}`,
          credential: { type: 'token', token: new Secret('token-from-broker') },
          expiresAt: new Date(Date.now() + 60_000),
          renewable: false,
        }
      },
      async revoke() {},
    })
    const sink = memorySink()
    const warden = createWarden({ policy: POLICY, broker: tokens, audit: sink, leases: { retries: 0 } })
    try {
      const alice = await warden.session({ principal: { id: 'alice', type: 'service' } })
      const bob = await warden.session({ principal: { id: 'bob', type: 'service' } })
      const api = createFetch(warden, { resource: 'api', origin })
      expect((await alice.run(() => api(`${origin}/one`))).status).toBe(200)
      tokens.down = true
      expect((await alice.run(() => api(`${origin}/two`))).status).toBe(200)
      await expectCode(
        bob.run(() => api(`${origin}/three`)),
        'ERR_WARDEN_BROKER',
      )
      // bob's request never left: the server saw alice's two, each with the broker's token.
      expect(seen).toEqual(['Bearer token-from-broker', 'Bearer token-from-broker'])
      sink.expectRecord({
        principal: { id: 'bob' },
        outcome: { status: 'denied', code: 'ERR_WARDEN_BROKER' },
      })
      expect(sink.lines.join('\n')).not.toContain('token-from-broker')
    } finally {
      await warden.close()
      server.close()
    }
  })
})
