import type { ConnectionGrant, Session, SessionSource } from '@warden/core'
import { WardenError, WardenTypeError } from '@warden/policy'
import type { FieldPacket, PoolOptions, QueryOptions } from 'mysql2'
import {
  type CallbackClient,
  type Connection,
  callbackClient,
  executeOptions,
  poolConnection,
  type QueryResult,
  type QueryValues,
} from './connection.js'
import { type MysqlGuardOptions, splitConfig } from './internal/config.js'
import { type LeaseInfo, leaseInfo, passwordCredential } from './internal/credentials.js'
import { guardConnection } from './internal/guard.js'
import { type Lent, runExecute, runQuery, type Target } from './internal/run.js'
import { ensureSqlMode, passedOnce } from './internal/sql-mode.js'
import { loadParser } from './internal/sqlparser-instance.js'
import {
  createCorePool,
  createQuery,
  formatterFor,
  hookConnectionConfig,
  type Mysql2Command,
  type Mysql2Connection,
  type Mysql2Pool,
  scrubCredential,
  setCredential,
} from './mysql2-internals.js'

/** mysql2's pool options plus `resource` (and `labels`); no `user`/`password`: those come from the broker. */
export type GuardedPoolOptions = Omit<
  PoolOptions,
  | 'user'
  | 'password'
  | 'password1'
  | 'password2'
  | 'password3'
  | 'passwordSha1'
  | 'infileStreamFactory'
  | 'uri'
> &
  MysqlGuardOptions

/** A pooled connection is retired when its credential has less than this left. */
const RETIRE_MARGIN_MS = 1_000
const noop = () => {}

/**
 * A mysql2 promise pool whose every command is described, decided, masked and audited under the
 * current session of `source`. Mirrors `mysql2/promise`'s Pool.
 */
export class Pool {
  readonly #source: SessionSource
  readonly #core: Mysql2Pool
  readonly #target: Target
  readonly #typeCast: unknown
  /** Which credential each physical connection authenticated with (keyed by its config object). */
  readonly #leases = new WeakMap<object, LeaseInfo>()
  /** Set only during the synchronous part of `getConnection`, when mysql2 may create a connection. */
  #creating: ConnectionGrant | undefined
  #latest: ConnectionGrant | undefined
  /** Each session's grant for its current lease (session.connect once per lease, not per command). */
  readonly #grants = new WeakMap<Session, ConnectionGrant>()
  #facade: CallbackClient | undefined

  /** @internal Use `createPool`. */
  constructor(source: SessionSource, config: GuardedPoolOptions) {
    if (typeof source?.current !== 'function')
      throw new WardenTypeError('createPool: the first argument must be a Warden or a Session')
    const { resource, core: coreOptions, typeCast } = splitConfig(config, 'createPool')
    this.#source = source
    this.#typeCast = typeCast
    loadParser().catch(noop) // pay the parser load now, not on the first command (which would retry it)
    const core = createCorePool(coreOptions)
    this.#core = core
    // Each new physical connection gets the credential of the command that needed it, on its own
    // config copy (non-enumerable), never on the pool's shared config.
    hookConnectionConfig(core, (cfg) => {
      const credential = this.#creating ?? this.#latest
      if (credential !== undefined && credential.lease.expiresAt.getTime() > Date.now()) {
        const { user, password } = passwordCredential(credential.lease)
        setCredential(cfg, user, password)
        this.#leases.set(cfg, leaseInfo(credential))
      } else {
        // No credential at hand (mysql2 refilling on its own): this connection can never log in.
        setCredential(cfg, 'warden-no-credential', '')
      }
    })
    core.on('connection', (conn: Mysql2Connection) => {
      guardConnection(conn)
      scrubCredential(conn.config)
      conn.on('error', noop) // a fatal error of an idle connection must not crash the host
    })
    core.on('release', (conn: Mysql2Connection) => {
      // Retire connections whose credential is about to expire or was replaced by a newer lease.
      const info = this.#leases.get(conn.config)
      const latest = this.#latest
      const replaced =
        latest !== undefined &&
        info !== undefined &&
        info.owner === latest.owner &&
        info.expiresAt < latest.lease.expiresAt.getTime()
      if (info === undefined || replaced || info.expiresAt - Date.now() < RETIRE_MARGIN_MS) conn.destroy()
    })
    this.#target = {
      resource,
      formatter: formatterFor(core.config.connectionConfig),
      multipleStatements: core.config.connectionConfig.multipleStatements === true,
      typeCast,
      acquire: (session) => this.#acquire(session),
    }
  }

  /** The session's grant for its current lease: without a promise while the lease is held. */
  #grant(session: Session): ConnectionGrant | Promise<ConnectionGrant> {
    const held = session.leaseIfHeld?.(this.#target.resource)
    const known = this.#grants.get(session)
    if (held !== undefined && known?.lease.id === held.id) return known
    return session.connect(this.#target.resource, { credentialType: 'password' }).then((grant) => {
      this.#grants.set(session, grant)
      return grant
    })
  }

  /** A physical connection authenticated with the session's current lease; older ones are retired. */
  async #acquire(session: Session): Promise<Lent & { info: LeaseInfo }> {
    const granted = this.#grant(session)
    const credential = granted instanceof Promise ? await granted : granted
    const lease = credential.lease
    this.#latest = credential
    const limit = 2 * (this.#core.config.connectionLimit || 10) + 2
    let lastError: unknown
    for (let attempt = 0; attempt <= limit; attempt++) {
      const conn = await new Promise<Mysql2Connection>((resolve, reject) => {
        this.#creating = credential
        try {
          this.#core.getConnection((err, c) => (err || c === undefined ? reject(err) : resolve(c)))
        } finally {
          this.#creating = undefined
        }
      })
      const info = this.#leases.get(conn.config)
      // The session's lease, or a newer one of the same principal (a concurrent command may have
      // seen the refresh first): accepting newer ones lets commands converge instead of retiring
      // each other's connections.
      if (
        info !== undefined &&
        info.owner === credential.owner &&
        (info.id === lease.id || info.expiresAt > lease.expiresAt.getTime()) &&
        info.expiresAt - Date.now() > RETIRE_MARGIN_MS
      ) {
        guardConnection(conn)
        try {
          await ensureSqlMode(conn)
          return { conn, info, release: () => conn.release?.(), retire: () => conn.destroy() }
        } catch (err) {
          // Its session lexes differently (e.g. a released connection whose sql_mode was changed):
          // retire it and try another; a server-wide mode fails every connection and ends the loop.
          conn.destroy()
          if (!passedOnce(conn)) throw err
          lastError = err
          continue
        }
      }
      conn.destroy() // authenticated with an older lease or another principal's: retire it
    }
    if (lastError !== undefined) throw lastError
    throw new WardenError(
      'ERR_WARDEN_LEASE_EXPIRED',
      'no pool connection with the current credential could be opened',
    )
  }

  query<T = QueryResult>(sql: string | QueryOptions, values?: QueryValues): Promise<[T, FieldPacket[]]> {
    const cmd = createQuery(sql, values, noop, this.#core.config.connectionConfig)
    return runQuery(this.#source, this.#target, cmd) as Promise<[T, FieldPacket[]]>
  }

  execute<T = QueryResult>(sql: string | QueryOptions, values?: QueryValues): Promise<[T, FieldPacket[]]> {
    return runExecute(this.#source, this.#target, executeOptions(sql, values)) as Promise<[T, FieldPacket[]]>
  }

  /** A connection of its own (transactions, prepared statements), bound to the current session's principal. */
  async getConnection(): Promise<Connection> {
    const session = this.#source.current()
    const lent = await this.#acquire(session)
    return poolConnection(
      this.#source,
      lent.conn,
      this.#target.resource,
      this.#typeCast,
      lent.info,
      lent.release,
    )
  }

  releaseConnection(connection: Connection): void {
    connection.release()
  }

  end(): Promise<void> {
    return new Promise((resolve, reject) => this.#core.end((err) => (err ? reject(err) : resolve())))
  }

  escape(value: unknown): string {
    return this.#core.escape(value)
  }
  escapeId(value: string | string[]): string {
    return this.#core.escapeId(value)
  }
  format(sql: string, values?: QueryValues): string {
    return this.#core.format(sql, values)
  }

  /** The callback API of this pool (mysql2's `pool.pool`): `query(...)` returns a Query with `.stream()`. */
  get pool(): CallbackClient {
    this.#facade ??= callbackClient(
      (sql, values, cb) =>
        createQuery(sql, values, cb as Mysql2Command['onResult'], this.#core.config.connectionConfig),
      (cmd) => runQuery(this.#source, this.#target, cmd),
      (options) => runExecute(this.#source, this.#target, options),
    )
    return this.#facade
  }
}

/**
 * A guarded mysql2 pool. Each physical connection authenticates with `session.lease(resource)`
 * of the session that needed it, and is retired once a newer lease exists or its own is about to
 * expire; the password never sits in the pool's config. Mirrors `mysql2/promise`'s `createPool`.
 * Exported from `@warden/drivers/mysql`. Commands throw ERR_WARDEN_DENIED, ERR_WARDEN_NO_SESSION,
 * ERR_WARDEN_APPROVAL_*, ERR_WARDEN_BROKER, ERR_WARDEN_LEASE_EXPIRED, or mysql2's own errors.
 * @example
 * const pool = createPool(warden, { resource: 'shop', host: 'db.internal', database: 'shop' })
 * const [rows] = await session.run(() => pool.query('SELECT * FROM orders WHERE id = ?', [42]))
 */
export function createPool(source: SessionSource, config: GuardedPoolOptions): Pool {
  return new Pool(source, config)
}
