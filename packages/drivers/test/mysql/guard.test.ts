import type { ApprovalRequest, Session } from '@warden/core'
import { callbackApprover, createWarden, memorySink } from '@warden/core'
import { createConnection, createPool, type Pool } from '@warden/drivers/mysql'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { type Fixture, openFixture } from './fixtures/mysql-fixture.js'

let fx: Fixture
let session: Session
let pool: Pool
let multi: Pool
let approvals: { next: boolean | (() => Promise<boolean>); seen: string[]; requests: ApprovalRequest[] }

const orderCount = async () => {
  const [rows] = await fx.admin.query(`SELECT count(*) AS n FROM \`${fx.db}\`.orders`)
  return (rows as { n: number }[])[0]?.n
}
const tableExists = async (table: string) => {
  const [rows] = await fx.admin.query(
    'SELECT count(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [fx.db, table],
  )
  return (rows as { n: number }[])[0]?.n === 1
}

beforeAll(async () => {
  approvals = { next: true, seen: [], requests: [] }
  fx = await openFixture('guard', {
    approvals: callbackApprover(async (req) => {
      approvals.seen.push(req.command)
      approvals.requests.push(req)
      return typeof approvals.next === 'function' ? approvals.next() : approvals.next
    }),
  })
  session = await fx.session()
  pool = createPool(session, { resource: 'shop', host: '127.0.0.1', database: fx.db, connectionLimit: 2 })
  // With multipleStatements on, the statement count is what stands between text and a second statement.
  multi = createPool(session, {
    resource: 'shop',
    host: '127.0.0.1',
    database: fx.db,
    connectionLimit: 2,
    multipleStatements: true,
  })
})
afterAll(async () => {
  await pool?.end()
  await multi?.end()
  await fx?.close()
})

describe('denied by the example policy, audited, and never run', () => {
  const denied: [string, string][] = [
    ['/*!DROP TABLE orders*/', 'unclassified'],
    ['DELETE FROM orders /*!99999 WHERE id = 1 */', 'unclassified'],
    ['SELECT 1 /*M!100000 , (SELECT ssn FROM customers) */', 'unclassified'],
    ['DELETE FROM orders', 'destructive'],
    ['UPDATE orders SET note = NULL', 'destructive'],
    ['DROP TABLE orders', 'destructive'],
    ["LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE orders", 'unclassified'],
    ["SELECT * FROM orders INTO OUTFILE '/tmp/wd-out'", 'dangerous-mysql'], // parsed, refused by its flag
    ['HANDLER orders OPEN', 'dangerous-mysql'], // parsed, and refused by its flag
    ["PREPARE s FROM 'DROP TABLE orders'", 'dangerous-mysql'],
    ["SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'", 'dangerous-mysql'],
    ["SET @@sql_mode = 'ANSI_QUOTES'", 'dangerous-mysql'],
    ["EXECUTE IMMEDIATE 'DROP TABLE orders'", 'dangerous-mysql'],
  ]
  test.each(denied)('%s → %s', async (sql, rule) => {
    const before = await orderCount()
    const err = await pool.query(sql).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_DENIED', rule })
    expect(fx.audit.last()).toMatchObject({
      command: sql,
      outcome: { status: 'denied' },
      decision: { effect: 'deny', rule },
    })
    expect(await orderCount()).toBe(before)
    expect(await tableExists('orders')).toBe(true)
  })

  test('execute() and the callback API are denied the same way', async () => {
    await expect(pool.execute('DELETE FROM orders')).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'destructive',
    })
    const viaCallback = await new Promise<Error | null>((resolve) =>
      pool.pool.query('DROP TABLE orders', (err) => resolve(err)),
    )
    expect(viaCallback).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    const streamErr = await new Promise<unknown>((resolve) => {
      const s = pool.pool.query('DELETE FROM orders').stream()
      s.on('error', resolve)
      s.on('data', () => resolve('data'))
    })
    expect(streamErr).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    expect(await tableExists('orders')).toBe(true)
    expect(await orderCount()).toBe(3)
  })
})

describe('statement boundaries, with multipleStatements on', () => {
  test('a second statement is classified, and denied', async () => {
    await expect(multi.query('SELECT 1; DROP TABLE orders')).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'destructive',
    })
    expect(await tableExists('orders')).toBe(true)
  })

  test('an escaped quote keeps everything in one string: one SELECT, allowed, nothing dropped', async () => {
    const [rows] = await multi.query("SELECT 'a\\'; DROP TABLE orders; -- ' AS s")
    expect(rows).toEqual([{ s: "a'; DROP TABLE orders; -- " }])
    expect(await tableExists('orders')).toBe(true)
  })

  test('values are formatted before classification: a hostile value stays a value', async () => {
    const [rows] = await multi.query('SELECT id FROM orders WHERE note = ?', ["x'; DROP TABLE orders; -- "])
    expect(rows).toEqual([])
    expect(await tableExists('orders')).toBe(true)
  })

  test('lexer/parser disagreement on the count is never run, even under a policy that allows unparsed text', async () => {
    // Shares the fixture's broker without letting this Warden close it.
    const broker = { issue: fx.broker.issue.bind(fx.broker), revoke: fx.broker.revoke.bind(fx.broker) }
    const audit = memorySink()
    const open = createWarden({
      policy: compilePolicy('defaults: {effect: allow}'),
      broker,
      audit,
    })
    const s = await open.session({ principal: { id: 'svc-open', type: 'service' } })
    const lax = createPool(s, {
      resource: 'shop',
      host: '127.0.0.1',
      database: fx.db,
      multipleStatements: true,
    })
    try {
      await fx.admin.query(`CREATE TABLE \`${fx.db}\`.victim (a INT)`)
      // sqlparser sees one SELECT (NBSP ends a `--` comment for it); MariaDB sees a second statement.
      const err = await lax.query('SELECT 1 --\u00a0x; DROP TABLE victim').catch((e) => e)
      expect(err).toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'warden:mysql-multi-statement' })
      // Decided by core as a built-in rule before policy (which allows everything here): a denied record.
      audit.expectRecord({
        command: 'SELECT 1 --\u00a0x; DROP TABLE victim',
        decision: { effect: 'deny', rule: 'warden:mysql-multi-statement' },
        outcome: { status: 'denied' },
      })
      expect(await tableExists('victim')).toBe(true)
      // Text the lexer itself gives up on (an executable comment) carries no statement count:
      // on a multi-statement connection it is refused all the same.
      for (const text of [
        'SELECT 1; /*!50000 DROP TABLE victim */',
        "SELECT 1; DROP TABLE victim; SELECT '",
      ]) {
        const hidden = await lax.query(text).catch((e) => e)
        expect(hidden).toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'warden:mysql-multi-statement' })
        expect(await tableExists('victim')).toBe(true)
      }
      // The same policy on a single-statement pool lets MariaDB reject the second statement itself.
      const single = createPool(s, {
        resource: 'shop',
        host: '127.0.0.1',
        database: fx.db,
        connectionLimit: 1,
      })
      try {
        await expect(single.query('SELECT 1; /*!50000 DROP TABLE victim */')).rejects.toMatchObject({
          code: 'ER_PARSE_ERROR',
        })
        expect(await tableExists('victim')).toBe(true)
      } finally {
        await single.end()
      }
    } finally {
      await lax.end()
      await open.close()
    }
  })
})

describe('sql_mode: the server must lex as the describer does', () => {
  test('after a (policy-allowed) sql_mode change, the session is re-checked and never used to lex differently', async () => {
    const broker = { issue: fx.broker.issue.bind(fx.broker), revoke: fx.broker.revoke.bind(fx.broker) }
    const open = createWarden({
      policy: compilePolicy('defaults: {effect: allow}'),
      broker,
      audit: memorySink(),
    })
    const s = await open.session({ principal: { id: 'svc-modes', type: 'service' } })
    const lax = createPool(s, { resource: 'shop', host: '127.0.0.1', database: fx.db, connectionLimit: 1 })
    const conn = await createConnection(s, { resource: 'shop', host: '127.0.0.1', database: fx.db })
    try {
      // Dedicated connection: the change runs (the policy allows it), then nothing else does.
      await conn.query("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'")
      const err = await conn.query("SELECT 'a\\'; DROP TABLE orders; -- '").catch((e) => e)
      expect(err).toMatchObject({
        code: 'ERR_WARDEN_UNSUPPORTED',
        message: expect.stringMatching(/NO_BACKSLASH_ESCAPES/),
      })
      expect(await tableExists('orders')).toBe(true)
      // Pool: the connection that ran the change is retired; the next command gets a clean one.
      const [[before]] = (await lax.query('SELECT CONNECTION_ID() AS id')) as [{ id: number }[], unknown]
      await lax.query("SET SESSION sql_mode = 'ANSI_QUOTES'")
      const [[after]] = (await lax.query('SELECT CONNECTION_ID() AS id, @@SESSION.sql_mode AS mode')) as [
        { id: number; mode: string }[],
        unknown,
      ]
      expect(after?.id).not.toBe(before?.id)
      expect(after?.mode).not.toContain('ANSI_QUOTES')
    } finally {
      conn.destroy()
      await lax.end()
      await open.close()
    }
  })
})

describe('sessions, approvals, principals', () => {
  test('a pool built on the Warden uses the ambient session, and refuses without one', async () => {
    const ambient = createPool(fx.warden, { resource: 'shop', host: '127.0.0.1', database: fx.db })
    try {
      await expect(ambient.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_WARDEN_NO_SESSION' })
      const [rows] = await session.run(() => ambient.query('SELECT 1 AS one'))
      expect(rows).toEqual([{ one: 1 }])
    } finally {
      await ambient.end()
    }
  })

  test("an agent's write waits for approval: approved runs, rejected never does", async () => {
    const agent = await fx.session({ id: 'agent-7', type: 'agent', groups: [] })
    const agentPool = createPool(agent, {
      resource: 'shop',
      host: '127.0.0.1',
      database: fx.db,
      connectionLimit: 1,
    })
    try {
      approvals.next = true
      const [ok] = await agentPool.query('UPDATE orders SET note = ? WHERE id = ?', ['approved', 11])
      expect(ok.affectedRows).toBe(1)
      expect(fx.audit.last()).toMatchObject({ approval: { status: 'approved' }, outcome: { status: 'ok' } })
      approvals.next = false
      await expect(
        agentPool.query('UPDATE orders SET note = ? WHERE id = ?', ['rejected', 11]),
      ).rejects.toMatchObject({
        code: 'ERR_WARDEN_APPROVAL_REJECTED',
      })
      expect(fx.audit.last()).toMatchObject({ outcome: { status: 'rejected' } })
      const [rows] = await fx.admin.query(`SELECT note FROM \`${fx.db}\`.orders WHERE id = 11`)
      expect(rows).toEqual([{ note: 'approved' }])
      // The approver saw the template with the bound values beside it, and why there is no preview.
      expect(approvals.seen.at(-1)).toBe('UPDATE orders SET note = ? WHERE id = ?')
      expect(approvals.requests.at(-1)).toMatchObject({
        parameters: ['rejected', '11'],
        preview: { summary: expect.stringMatching(/^no preview: MariaDB writes are not dry-run/) },
      })
      // Values changed by the caller while the approval is pending do not reach the server.
      let release!: (ok: boolean) => void
      approvals.next = () =>
        new Promise<boolean>((resolve) => {
          release = resolve
        })
      for (const [name, run] of [
        ['query', (v: unknown[]) => agentPool.query('UPDATE orders SET note = ? WHERE id = ?', v)],
        ['execute', (v: unknown[]) => agentPool.execute('UPDATE orders SET note = ? WHERE id = ?', v)],
      ] as const) {
        const values: unknown[] = [`${name}-approved`, 11]
        const seen = approvals.requests.length
        const pending = run(values)
        await vi.waitFor(() => expect(approvals.requests.length).toBe(seen + 1))
        values[0] = 'swapped'
        values[1] = 12
        release(true)
        await pending
        const [after] = await fx.admin.query(
          `SELECT id, note FROM \`${fx.db}\`.orders WHERE id IN (11, 12) ORDER BY id`,
        )
        expect((after as { id: number; note: string }[])[0]).toEqual({ id: 11, note: `${name}-approved` })
        expect((after as { note: string }[])[1]?.note).not.toBe('swapped')
      }
      // The values never reach the audit record.
      expect(fx.audit.lines.join('\n')).not.toContain('query-approved')
      approvals.next = true
      // Reads need no approval.
      await expect(agentPool.query('SELECT 1')).resolves.toBeDefined()
    } finally {
      await agentPool.end()
    }
  })

  test('changeUser is refused', async () => {
    const conn = await pool.getConnection()
    try {
      await expect(conn.changeUser({ user: 'root' })).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
      const [rows] = await conn.query('SELECT 1 AS still')
      expect(rows).toEqual([{ still: 1 }])
    } finally {
      conn.release()
    }
  })

  test("a connection never serves another principal's session", async () => {
    const conn = await createConnection(fx.warden, {
      resource: 'shop',
      host: '127.0.0.1',
      database: fx.db,
    }).catch((e) => e)
    expect(conn).toMatchObject({ code: 'ERR_WARDEN_NO_SESSION' })
    const mine = await session.run(() =>
      createConnection(fx.warden, { resource: 'shop', host: '127.0.0.1', database: fx.db }),
    )
    const shared = createPool(fx.warden, { resource: 'shop', host: '127.0.0.1', database: fx.db })
    const pooled = await session.run(() => shared.getConnection())
    const other = await fx.session({ id: 'svc-other' })
    // Same id, other groups: a policy (or a broker) tells them apart, so the connection does too.
    const sameId = await fx.session({ groups: ['admins'] })
    try {
      await session.run(() => mine.query('SELECT 1 AS ok'))
      // Every command on the connection names the lease it authenticated with.
      const leaseId = fx.audit.last()?.lease
      expect(leaseId).toEqual(expect.any(String))
      for (const conn of [mine, pooled])
        for (const stranger of [other, sameId]) {
          for (const run of [
            () => conn.query('SELECT 2 AS theirs'),
            () => conn.execute('SELECT 2 AS theirs'),
          ]) {
            await expect(stranger.run(run)).rejects.toMatchObject({
              code: 'ERR_WARDEN_DENIED',
              rule: 'warden:connection-owner',
            })
            expect(fx.audit.last()).toMatchObject({
              principal: { id: stranger.principal.id, groups: stranger.principal.groups },
              command: 'SELECT 2 AS theirs',
              decision: { effect: 'deny', rule: 'warden:connection-owner' },
              outcome: { status: 'denied' },
            })
          }
        }
      // The owners go on using them, each on its own lease.
      await session.run(() => mine.query('SELECT 3 AS ok'))
      expect(fx.audit.last()).toMatchObject({
        command: 'SELECT 3 AS ok',
        lease: leaseId,
        outcome: { status: 'ok' },
      })
      await session.run(() => pooled.execute('SELECT 4 AS ok'))
      expect(fx.audit.last()).toMatchObject({ lease: expect.any(String), outcome: { status: 'ok' } })
    } finally {
      pooled.release()
      await shared.end()
      await mine.end()
      await Promise.all([other.close(), sameId.close()])
    }
  })

  test('a released pool connection cannot be used again', async () => {
    const conn = await pool.getConnection()
    conn.release()
    await expect(conn.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
  })

  test('a parser trap denies that command and the pool keeps serving', async () => {
    const ors = `SELECT id FROM orders WHERE ${Array.from({ length: 800 }, (_, i) => `id = ${i}`).join(' OR ')}`
    await expect(pool.query(ors)).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'unclassified' })
    const [rows] = await pool.query('SELECT id FROM orders WHERE id = 10 OR id = 11 ORDER BY id')
    expect(rows).toEqual([{ id: 10 }, { id: 11 }])
  })

  test('configuration mistakes fail at construction', () => {
    expect(() => createPool(session, { host: '127.0.0.1' } as never)).toThrow(/resource/)
    expect(() => createPool(session, { resource: 'shop', password: 'x' } as never)).toThrow(
      /credentials come from the Warden broker/,
    )
    expect(() => createPool(session, { resource: 'shop', infileStreamFactory: () => null } as never)).toThrow(
      /LOAD DATA LOCAL INFILE/,
    )
    expect(() => createPool({} as never, { resource: 'shop' })).toThrow(/Warden or a Session/)
  })
})
