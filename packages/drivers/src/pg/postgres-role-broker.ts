// postgresRoleBroker: short-lived PostgreSQL login roles, the embedded equivalent of a secrets
// engine's dynamic database credentials. Each lease is a fresh role (VALID UNTIL, member of the
// configured group roles, random password sent as a SCRAM verifier so it never appears in server
// logs), dropped with its backends terminated on revoke or at expiry.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'
import type { Broker, Lease, LeaseRequest } from '@warden/core'
import { revealSecret, Secret, WardenError } from '@warden/core'
import { WardenTypeError } from '@warden/policy'
import type pg from 'pg'
import { escapeIdentifier, PgClient } from './pg-internals.js'

export interface PostgresRoleBrokerOptions {
  /** Connection of a role with CREATEROLE (and membership admin of `grants`). Its password may be a Secret. */
  readonly admin: Omit<pg.ClientConfig, 'password'> & { readonly password?: string | Secret }
  /** Group roles each issued role becomes a member of (that is where privileges live). */
  readonly grants: readonly string[]
  /** Lease lifetime in ms (default 15 min). */
  readonly ttl?: number
  /** Prefix of issued role names (default `warden_`). */
  readonly prefix?: string
}

export interface PostgresRoleBroker extends Broker {
  /** Roles issued and not yet dropped. */
  readonly active: number
}

const SCRAM_ITERATIONS = 4096

/** A broker that issues a fresh PostgreSQL login role per lease. */
export function postgresRoleBroker(options: PostgresRoleBrokerOptions): PostgresRoleBroker {
  if (typeof options !== 'object' || options === null)
    throw new WardenTypeError('postgresRoleBroker: options are required')
  if (typeof options.admin !== 'object' || options.admin === null)
    throw new WardenTypeError('postgresRoleBroker: "admin" connection config is required')
  if (!Array.isArray(options.grants) || options.grants.some((g) => typeof g !== 'string' || g === '')) {
    throw new WardenTypeError('postgresRoleBroker: "grants" must be a list of group role names')
  }
  const ttl = options.ttl ?? 15 * 60_000
  if (!Number.isFinite(ttl) || ttl < 1000)
    throw new WardenTypeError('postgresRoleBroker: "ttl" must be at least 1000 ms')
  const prefix = options.prefix ?? 'warden_'
  if (!/^[a-z_][a-z0-9_]{0,30}$/.test(prefix))
    throw new WardenTypeError('postgresRoleBroker: "prefix" must be a short lower-case identifier')
  const { password: adminPassword, ...adminConfig } = options.admin
  const grants = [...options.grants]

  const timers = new Map<string, NodeJS.Timeout>()
  let admin: Promise<pg.Client> | undefined
  let chain: Promise<unknown> = Promise.resolve()
  let closed = false

  const connect = (): Promise<pg.Client> => {
    admin ??= (async () => {
      const secret =
        adminPassword instanceof Secret
          ? adminPassword
          : adminPassword === undefined
            ? undefined
            : new Secret(adminPassword)
      const client = new PgClient({
        ...adminConfig,
        password: secret ? () => revealSecret(secret) : undefined,
      })
      client.on('error', () => {
        admin = undefined // reconnect on next use
      })
      await client.connect()
      const raw = client as unknown as { password: unknown; connectionParameters: { password: unknown } }
      raw.password = null
      raw.connectionParameters.password = null
      return client
    })().catch((err: unknown) => {
      admin = undefined
      throw new WardenError(
        'ERR_WARDEN_BROKER',
        `postgresRoleBroker: cannot connect as admin: ${(err as Error).message}`,
        { cause: err },
      )
    })
    return admin
  }

  // Admin statements run one at a time on one connection.
  const serial = <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const next = chain.then(async () => fn(await connect()))
    chain = next.catch(() => undefined)
    return next
  }

  const drop = (role: string): Promise<void> =>
    serial(async (client) => {
      const timer = timers.get(role)
      if (timer) clearTimeout(timer)
      timers.delete(role)
      // NOLOGIN first: a backend that reconnects between the terminate and the drop is refused,
      // and a role DROP ROLE cannot remove (objects in other databases) can never log in again.
      await client.query(`ALTER ROLE ${escapeIdentifier(role)} NOLOGIN`).catch((err: { code?: string }) => {
        if (err?.code !== '42704') throw err // undefined_object: already gone
      })
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role])
      // Objects the role created in the admin database go with it; elsewhere DROP ROLE refuses, and the role stays NOLOGIN.
      await client.query(`DROP OWNED BY ${escapeIdentifier(role)}`).catch(() => undefined)
      await client.query(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`).catch((err: { code?: string }) => {
        // dependent_objects_still_exist: it owns objects elsewhere. Revoked all the same: NOLOGIN.
        if (err?.code !== '2BP01') throw err
      })
    })

  return {
    get active() {
      return timers.size
    },

    async issue(_request: LeaseRequest): Promise<Lease> {
      if (closed) throw new WardenError('ERR_WARDEN_BROKER', 'postgresRoleBroker is closed')
      const role = `${prefix}${randomBytes(8).toString('hex')}`
      const password = randomBytes(24).toString('base64url')
      const expiresAt = new Date(Date.now() + ttl)
      await serial(async (client) => {
        const inRole = grants.length > 0 ? ` IN ROLE ${grants.map(escapeIdentifier).join(', ')}` : ''
        await client.query(
          `CREATE ROLE ${escapeIdentifier(role)} LOGIN PASSWORD ${client.escapeLiteral(scramVerifier(password))} VALID UNTIL ${client.escapeLiteral(expiresAt.toISOString())}${inRole}`,
        )
      }).catch((err: unknown) => {
        throw err instanceof WardenError
          ? err
          : new WardenError(
              'ERR_WARDEN_BROKER',
              `postgresRoleBroker: cannot create a role: ${(err as Error).message}`,
              { cause: err },
            )
      })
      const timer = setTimeout(() => {
        drop(role).catch(() => undefined)
      }, ttl)
      timer.unref()
      timers.set(role, timer)
      return Object.freeze({
        id: role,
        credential: Object.freeze({
          type: 'password' as const,
          username: role,
          password: new Secret(password),
        }),
        expiresAt,
        renewable: false,
      })
    },

    async revoke(lease: Lease): Promise<void> {
      if (!lease.id.startsWith(prefix))
        throw new WardenError('ERR_WARDEN_BROKER', 'postgresRoleBroker: not a lease of this broker')
      await drop(lease.id)
    },

    async close(): Promise<void> {
      closed = true
      const roles = [...timers.keys()]
      await Promise.all(roles.map((r) => drop(r).catch(() => undefined)))
      const client = await admin?.catch(() => undefined)
      admin = undefined
      await client?.end().catch(() => undefined)
    },
  }
}

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802/7677), as PostgreSQL stores it. */
function scramVerifier(password: string): string {
  const salt = randomBytes(16)
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, SCRAM_ITERATIONS, 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const serverKey = createHmac('sha256', salted).update('Server Key').digest()
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`
}
