// Credentials against a throwaway PostgreSQL cluster that checks passwords (scram-sha-256):
// postgresRoleBroker roles, revocation, expiry and rotation mid-run, and the secret never leaking.
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { createWarden, type Lease, revealSecret, type Warden } from '@warden/core'
import { type MemorySink, memorySink } from '@warden/core/testing'
import { Client, Pool, postgresRoleBroker } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const BIN = '/usr/lib/postgresql/15/bin'
const ADMIN_PASSWORD = `admin-${Date.now()}`
let dir: string
let port: number

const pgc = (args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'pipe' })

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

function adminConfig() {
  return { host: '127.0.0.1', port, user: 'postgres', database: 'postgres', password: ADMIN_PASSWORD }
}

async function asAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(adminConfig())
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

const POLICY = `
defaults: { effect: allow }
rules:
  - name: no-drop
    when: '"DROP" in sql.types'
    effect: deny
`

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-pg-cluster-'))
  chmodSync(dir, 0o755)
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString())
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString())
  chownSync(dir, uid, gid)
  writeFileSync(join(dir, 'pw'), ADMIN_PASSWORD)
  chownSync(join(dir, 'pw'), uid, gid)
  port = await freePort()
  pgc([
    `${BIN}/initdb`,
    '-D',
    join(dir, 'data'),
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    `--pwfile=${join(dir, 'pw')}`,
  ])
  pgc([
    `${BIN}/pg_ctl`,
    '-D',
    join(dir, 'data'),
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    'start',
  ])
  await asAdmin(async (c) => {
    await c.query('CREATE ROLE app_readers NOLOGIN')
    await c.query('CREATE TABLE secrets_demo (id int, v text)')
    await c.query("INSERT INTO secrets_demo VALUES (1, 'one')")
    await c.query('GRANT SELECT ON secrets_demo TO app_readers')
  })
}, 60_000)

afterAll(() => {
  if (!dir) return
  try {
    pgc([`${BIN}/pg_ctl`, '-D', join(dir, 'data'), '-m', 'immediate', 'stop'])
  } catch {
    // already stopped
  }
  rmSync(dir, { recursive: true, force: true })
})

/** Wraps a broker to keep the issued passwords, so the test can look for them everywhere. */
function recording(broker: ReturnType<typeof postgresRoleBroker>) {
  const issued: Lease[] = []
  return {
    issued,
    passwords: () =>
      issued.map((l) => (l.credential.type === 'password' ? revealSecret(l.credential.password) : '')),
    broker: {
      issue: async (r: Parameters<typeof broker.issue>[0]) => {
        const lease = await broker.issue(r)
        issued.push(lease)
        return lease
      },
      revoke: (l: Lease) => broker.revoke(l),
      close: () => broker.close(),
    },
  }
}

async function roles(): Promise<{ rolname: string; rolvaliduntil: Date | null }[]> {
  return (
    await asAdmin((c) =>
      c.query("SELECT rolname, rolvaliduntil FROM pg_roles WHERE rolname LIKE 'wtest_%' ORDER BY rolname"),
    )
  ).rows
}

describe('the throwaway cluster checks passwords', () => {
  it('refuses a wrong password', async () => {
    const c = new pg.Client({ ...adminConfig(), password: 'wrong' })
    await expect(c.connect()).rejects.toThrow(/password authentication failed/)
  })
})

describe('postgresRoleBroker', () => {
  it('validates its options', () => {
    expect(() => postgresRoleBroker({} as never)).toThrow(/admin/)
    expect(() => postgresRoleBroker({ admin: adminConfig(), grants: [''] })).toThrow(/grants/)
    expect(() => postgresRoleBroker({ admin: adminConfig(), grants: [], ttl: 5 })).toThrow(/ttl/)
  })

  it('issues a fresh login role per lease (VALID UNTIL, group member) and drops it on revoke', async () => {
    const broker = postgresRoleBroker({
      admin: adminConfig(),
      grants: ['app_readers'],
      ttl: 60_000,
      prefix: 'wtest_',
    })
    const request = {
      resource: { kind: 'postgres', name: 'demo', labels: {} },
      principal: { id: 'p', type: 'service', groups: [], claims: {}, issuer: '' },
      scope: '',
    } as const
    const a = await broker.issue(request)
    const b = await broker.issue(request)
    expect(a.id).not.toBe(b.id)
    expect(a.credential.type).toBe('password')
    const listed = await roles()
    expect(listed.map((r) => r.rolname).sort()).toEqual([a.id, b.id].sort())
    for (const r of listed)
      expect(Math.abs((r.rolvaliduntil as Date).getTime() - a.expiresAt.getTime())).toBeLessThan(2000)
    const members = await asAdmin((c) =>
      c.query("SELECT pg_has_role($1, 'app_readers', 'MEMBER') AS m", [a.id]),
    )
    expect(members.rows).toEqual([{ m: true }])

    // The lease works, and its password is not in the server log (a SCRAM verifier was sent).
    const cred = a.credential as { username: string; password: import('@warden/core').Secret }
    const direct = new pg.Client({
      host: '127.0.0.1',
      port,
      database: 'postgres',
      user: cred.username,
      password: revealSecret(cred.password),
    })
    await direct.connect()
    expect((await direct.query('SELECT v FROM secrets_demo')).rows).toEqual([{ v: 'one' }])
    direct.on('error', () => {})

    await broker.revoke(a)
    expect((await roles()).map((r) => r.rolname)).toEqual([b.id])
    // Its backend was terminated and its password no longer logs in.
    await expect(direct.query('SELECT 1')).rejects.toThrow()
    const again = new pg.Client({
      host: '127.0.0.1',
      port,
      database: 'postgres',
      user: cred.username,
      password: revealSecret(cred.password),
    })
    await expect(again.connect()).rejects.toThrow(/password authentication failed/)
    await broker.close()
    expect(await roles()).toEqual([])
  })

  it('a role that cannot be dropped (it owns objects in another database) can never log in again', async () => {
    const broker = postgresRoleBroker({ admin: adminConfig(), grants: [], ttl: 60_000, prefix: 'wtest_' })
    const request = {
      resource: { kind: 'postgres', name: 'demo', labels: {} },
      principal: { id: 'p', type: 'service', groups: [], claims: {}, issuer: '' },
      scope: '',
    } as const
    const lease = await broker.issue(request)
    const cred = lease.credential as { username: string; password: import('@warden/core').Secret }
    const login = (database: string) =>
      new pg.Client({
        host: '127.0.0.1',
        port,
        database,
        user: cred.username,
        password: revealSecret(cred.password),
      })
    await asAdmin((c) =>
      c.query('DROP DATABASE IF EXISTS wtest_other').then(() => c.query('CREATE DATABASE wtest_other')),
    )
    const other = new pg.Client({ ...adminConfig(), database: 'wtest_other' })
    await other.connect()
    try {
      await other.query(`GRANT CREATE ON SCHEMA public TO ${cred.username}`)
      const owner = login('wtest_other')
      await owner.connect()
      await owner.query('CREATE TABLE left_behind (a int)')
      await owner.end()
      await broker.revoke(lease)
      // DROP ROLE refused (the table in wtest_other), so the role is still there: but without LOGIN.
      const [role] = (await roles()).filter((r) => r.rolname === cred.username)
      expect(role).toBeDefined()
      const can = await asAdmin((c) =>
        c.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [cred.username]),
      )
      expect(can.rows).toEqual([{ rolcanlogin: false }])
      await expect(login('postgres').connect()).rejects.toThrow(/not permitted to log in/)
    } finally {
      await other.query('DROP TABLE IF EXISTS left_behind').catch(() => undefined)
      await other.end()
      await asAdmin((c) => c.query('DROP DATABASE IF EXISTS wtest_other'))
      await asAdmin((c) => c.query(`DROP ROLE IF EXISTS ${cred.username}`))
      await broker.close()
    }
  })
})

describe('guarded pool with broker-issued roles', () => {
  let warden: Warden
  let sink: MemorySink
  let rec: ReturnType<typeof recording>
  let inner: ReturnType<typeof postgresRoleBroker>

  beforeAll(() => {
    inner = postgresRoleBroker({ admin: adminConfig(), grants: ['app_readers'], ttl: 3000, prefix: 'wtest_' })
    rec = recording(inner)
    sink = memorySink()
    warden = createWarden({ policy: compilePolicy(POLICY), broker: rec.broker, audit: sink })
  })
  afterAll(async () => {
    await warden?.close()
    await inner?.close()
  })

  it('rotates credentials while queries keep running: a lease expires mid-run and no query fails', async () => {
    const session = await warden.session({ principal: { id: 'svc-rotate', type: 'service', groups: [] } })
    const pool = new Pool(session, {
      host: '127.0.0.1',
      port,
      database: 'postgres',
      resource: 'rotating',
      max: 2,
      idleTimeoutMillis: 0,
    })
    const users = new Set<string>()
    const failures: unknown[] = []
    const until = Date.now() + 7000
    const worker = async () => {
      while (Date.now() < until) {
        try {
          const r = await pool.query(
            'SELECT current_user AS u, (SELECT count(*)::int FROM secrets_demo) AS n',
          )
          users.add(r.rows[0].u)
          expect(r.rows[0].n).toBe(1)
        } catch (err) {
          failures.push(err)
        }
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    await Promise.all([worker(), worker(), worker()])
    expect(failures).toEqual([])
    // 7 s of 3 s leases: several roles served the queries, and the expired ones are gone.
    expect(users.size).toBeGreaterThanOrEqual(2)
    const live = (await roles()).map((r) => r.rolname)
    for (const lease of rec.issued) {
      if (lease.expiresAt.getTime() < Date.now() - 500) expect(live).not.toContain(lease.id)
    }

    // The canary: no issued password appears in results, errors, inspect output or audit.
    const denied = await pool.query('DROP TABLE secrets_demo').catch((e: Error) => e)
    const dbError = await pool.query('SELECT * FROM missing_table').catch((e: Error) => e)
    const seen = [
      JSON.stringify(sink.records),
      inspect(pool, { depth: 8, showHidden: true }),
      String((denied as Error).message),
      String((dbError as Error).message),
      String((dbError as Error).stack),
    ].join('\n')
    expect(rec.passwords().length).toBeGreaterThanOrEqual(2)
    for (const password of rec.passwords()) expect(seen).not.toContain(password)
    await pool.end()
    await session.close()
  }, 30_000)

  it('a revoked lease kills the connection, and the next connection takes a new lease', async () => {
    const session = await warden.session({ principal: { id: 'svc-revoke', type: 'service', groups: [] } })
    const client = new Client(session, { host: '127.0.0.1', port, database: 'postgres', resource: 'revoked' })
    client.on('error', () => {})
    await client.connect()
    const first = (await client.query('SELECT current_user AS u')).rows[0].u as string
    expect(inspect(client, { depth: 8, showHidden: true })).not.toContain(rec.passwords().at(-1) as string)
    const lease = rec.issued.find((l) => l.id === first) as Lease
    await inner.revoke(lease)
    await expect(client.query('SELECT 1')).rejects.toThrow()
    await session.close()

    const next = await warden.session({ principal: { id: 'svc-revoke', type: 'service', groups: [] } })
    const fresh = new Client(next, { host: '127.0.0.1', port, database: 'postgres', resource: 'revoked' })
    await fresh.connect()
    const second = (await fresh.query('SELECT current_user AS u')).rows[0].u as string
    expect(second).not.toBe(first)
    await fresh.end()
    await next.close()
  })
})
