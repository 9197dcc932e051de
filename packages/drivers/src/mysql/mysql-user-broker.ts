import { createHash, randomBytes } from 'node:crypto'
import type { Broker, Lease, LeaseRequest } from '@warden/core'
import { isSecret, revealSecret, Secret } from '@warden/core'
import { WardenError, WardenTypeError } from '@warden/policy'
import mysql, { type ConnectionOptions } from 'mysql2'
import { describeMysql } from './describe.js'

export interface MysqlUserBrokerOptions {
  /**
   * How the broker reaches the server to create and drop users: mysql2 connection options of an
   * account with CREATE USER, GRANT OPTION (for the grants below), PROCESS and CONNECTION ADMIN/SUPER (to kill).
   */
  readonly admin: Omit<ConnectionOptions, 'password'> & { readonly password?: string | Secret }
  /** The privileges of every user, each what follows GRANT up to TO, e.g. `SELECT, INSERT ON shop.*`. */
  readonly grants: readonly string[]
  /** Lifetime of each user: milliseconds, or a duration such as `30s`, `15m`, `1h`. */
  readonly ttl: number | string
  /** Host part of each account (default `%`). */
  readonly host?: string
  /** Prefix of user names (default `wd_`); names are `<prefix><expiry>_<random>`, so `sweep()` can find stale ones. */
  readonly prefix?: string
}

export interface MysqlUserBroker extends Broker {
  /** Users this broker created that are not dropped yet. */
  readonly active: number
  /** Drops users with this prefix whose lifetime has passed (e.g. left by a crashed process). Returns how many. */
  sweep(): Promise<number>
  /** Drops every user this broker created and closes its admin connections. */
  close(): Promise<void>
}

interface Live {
  readonly user: string
  readonly timer: NodeJS.Timeout
}

function parseTtl(ttl: number | string): number {
  if (typeof ttl === 'number') {
    if (Number.isFinite(ttl) && ttl > 0) return ttl
  } else if (typeof ttl === 'string') {
    const unit = ttl.slice(-1)
    const scale = ({ s: 1_000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit]
    const n = Number(ttl.slice(0, -1))
    if (ttl.endsWith('ms') && Number(ttl.slice(0, -2)) > 0) return Number(ttl.slice(0, -2))
    if (scale !== undefined && Number.isFinite(n) && n > 0) return n * scale
  }
  throw new WardenTypeError(
    'mysqlUserBroker: "ttl" must be a positive number of ms or a duration like "30s", "15m", "1h"',
  )
}

/**
 * A broker that creates one MySQL/MariaDB user per lease, with the configured grants and a random
 * password, and drops it (killing its connections) on revoke or when its lifetime ends.
 * Exported from `@warden/drivers/mysql`. Issue/revoke failures throw ERR_WARDEN_BROKER.
 * @example
 * const broker = mysqlUserBroker({ admin: { host: 'db', user: 'warden-admin', password: adminSecret }, grants: ['SELECT ON shop.*'], ttl: '15m' })
 */
export function mysqlUserBroker(options: MysqlUserBrokerOptions): MysqlUserBroker {
  if (
    options === null ||
    typeof options !== 'object' ||
    options.admin === null ||
    typeof options.admin !== 'object'
  ) {
    throw new WardenTypeError('mysqlUserBroker: "admin" connection options are required')
  }
  const grants = options.grants
  if (
    !Array.isArray(grants) ||
    grants.length === 0 ||
    !grants.every((g) => typeof g === 'string' && g.trim() !== '')
  ) {
    throw new WardenTypeError('mysqlUserBroker: "grants" must be a non-empty list like ["SELECT ON shop.*"]')
  }
  const ttl = parseTtl(options.ttl)
  const host = options.host ?? '%'
  const prefix = options.prefix ?? 'wd_'
  if (!/^[A-Za-z0-9_]{1,16}$/.test(prefix))
    throw new WardenTypeError('mysqlUserBroker: "prefix" must be 1-16 letters, digits or _')
  const { password: adminPassword, ...admin } = options.admin
  const pool = mysql.createPool({
    ...admin,
    password: isSecret(adminPassword) ? revealSecret(adminPassword) : adminPassword,
    connectionLimit: 2,
    multipleStatements: false,
  })
  const live = new Map<string, Live>()
  let closed = false

  const account = (user: string) => `${pool.escape(user)}@${pool.escape(host)}`
  const run = (sql: string, values?: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) =>
      pool.query(sql, values ?? [], (err, rows) => (err ? reject(err) : resolve(rows))),
    )
  // Errors never carry the statement (it may hold a password) nor a cause that does.
  const brokerError = (what: string, err: unknown, secret?: string): WardenError => {
    const e = err as { code?: unknown; sqlMessage?: unknown; message?: unknown }
    let message = `${typeof e?.code === 'string' ? `${e.code}: ` : ''}${String(e?.sqlMessage ?? e?.message ?? err)}`
    if (secret) message = message.split(secret).join('[secret]')
    return new WardenError('ERR_WARDEN_BROKER', `mysqlUserBroker: ${what}: ${message}`)
  }

  // The grants become SQL text: check once that each makes exactly one GRANT statement.
  let validated: Promise<void> | undefined
  const validate = () => {
    validated ??= (async () => {
      for (const g of grants) {
        const facts = await describeMysql(`GRANT ${g} TO 'warden_probe'@'%'`)
        if (!facts.parsed || facts.types.length !== 1 || facts.types[0] !== 'GRANT') {
          throw new WardenTypeError(
            `mysqlUserBroker: grant "${g}" does not read as one GRANT clause (${facts.error || facts.types.join(', ')})`,
          )
        }
      }
    })()
    return validated
  }

  async function drop(user: string): Promise<void> {
    // Drop first (no new logins), then end the sessions that are still open.
    await run(`DROP USER IF EXISTS ${account(user)}`)
    const rows = (await run('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [user])) as {
      ID: number
    }[]
    for (const row of rows) await run(`KILL CONNECTION ${Number(row.ID)}`).catch(() => undefined) // it may have ended meanwhile
  }

  async function dropLive(user: string): Promise<void> {
    const entry = live.get(user)
    if (entry !== undefined) clearTimeout(entry.timer)
    live.delete(user)
    await drop(user)
  }

  const userOf = (lease: Lease): string | undefined => {
    const username = lease?.credential?.type === 'password' ? lease.credential.username : undefined
    return typeof username === 'string' && username.startsWith(prefix) ? username : undefined
  }

  return {
    get active() {
      return live.size
    },

    async issue(_request: LeaseRequest): Promise<Lease> {
      if (closed) throw new WardenError('ERR_WARDEN_BROKER', 'mysqlUserBroker: closed')
      await validate()
      const expires = Date.now() + ttl
      const user = `${prefix}${Math.ceil(expires / 1000).toString(36)}_${randomBytes(5).toString('hex')}`
      const password = randomBytes(24).toString('base64url')
      try {
        // The server gets the password's hash, never the password: the general log, the binlog
        // and the processlist then hold nothing anyone can log in with.
        await run(`CREATE USER ${account(user)} IDENTIFIED BY PASSWORD ?`, [nativePasswordHash(password)])
        for (const g of grants) await run(`GRANT ${g} TO ${account(user)}`)
      } catch (err) {
        await drop(user).catch(() => undefined)
        throw brokerError(`could not create user ${user}`, err, password)
      }
      const timer = setTimeout(
        () => {
          dropLive(user).catch(() => undefined) // best effort; sweep() catches what this misses
        },
        Math.min(ttl, 2 ** 31 - 1),
      )
      timer.unref()
      live.set(user, { user, timer })
      return Object.freeze({
        id: `mysql-user:${user}`,
        credential: Object.freeze({
          type: 'password' as const,
          username: user,
          password: new Secret(password),
        }),
        expiresAt: new Date(expires),
        renewable: false,
      })
    },

    async revoke(lease: Lease): Promise<void> {
      const user = userOf(lease)
      if (user === undefined) return
      try {
        await dropLive(user)
      } catch (err) {
        throw brokerError(`could not drop user ${user}`, err)
      }
    },

    async sweep(): Promise<number> {
      const like = `${prefix.replace(/_/g, '\\_')}%`
      const rows = (await run('SELECT User AS user FROM mysql.user WHERE User LIKE ?', [like])) as {
        user: string
      }[]
      const now = Date.now() / 1000
      let dropped = 0
      for (const { user } of rows) {
        const expiry = Number.parseInt(user.slice(prefix.length).split('_')[0] ?? '', 36)
        if (Number.isFinite(expiry) && expiry < now && !live.has(user)) {
          await drop(user)
          dropped++
        }
      }
      return dropped
    },

    async close(): Promise<void> {
      if (closed) return
      closed = true
      const users = [...live.keys()]
      await Promise.all(users.map((u) => dropLive(u).catch(() => undefined)))
      await new Promise<void>((resolve) => pool.end(() => resolve()))
    },
  }
}

/**
 * The mysql_native_password verifier MariaDB stores: `*` + hex(SHA1(SHA1(password))). A client must
 * know SHA1(password) to answer the login challenge, so the verifier alone does not log in.
 */
function nativePasswordHash(password: string): string {
  const stage1 = createHash('sha1').update(password, 'utf8').digest()
  return `*${createHash('sha1').update(stage1).digest('hex').toUpperCase()}`
}
