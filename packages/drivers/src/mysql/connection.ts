import type { SessionSource } from '@warden/core'
import { WardenDeniedError, WardenError, WardenTypeError } from '@warden/policy'
import type { ConnectionOptions, FieldPacket, Query as QueryCommand, QueryOptions } from 'mysql2'
import { type MysqlGuardOptions, splitConfig } from './internal/config.js'
import { type LeaseInfo, leaseInfo, passwordCredential } from './internal/credentials.js'
import { guardConnection } from './internal/guard.js'
import {
  type Lent,
  type Result,
  runExecute,
  runPrepare,
  runPrepared,
  runQuery,
  type Target,
} from './internal/run.js'
import { ensureSqlMode, recheckSqlMode } from './internal/sql-mode.js'
import { loadParser } from './internal/sqlparser-instance.js'
import {
  createCoreConnection,
  createQuery,
  formatterFor,
  type Mysql2Command,
  type Mysql2Connection,
  type Mysql2Statement,
  scrubCredential,
  setCredential,
} from './mysql2-internals.js'

/** mysql2's connection options plus `resource` (and `labels`); no `user`/`password`: those come from the broker. */
export type GuardedConnectionOptions = Omit<
  ConnectionOptions,
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

/** Rows, a ResultSetHeader, or arrays of those (multi-statement): as mysql2 types its results. */
export type QueryResult = any
export type QueryValues = unknown[] | Record<string, unknown> | unknown

/** A statement prepared on one connection; every `execute(values)` is decided and audited. */
export interface PreparedStatement {
  readonly query: string
  execute<T = QueryResult>(values?: QueryValues): Promise<[T, FieldPacket[]]>
  close(): Promise<void>
}

/** The callback API of one client (mysql2's core objects): streams and events come from here. */
export interface CallbackClient {
  /** Returns mysql2's `Query` (events, `.stream()`); the command is queued once the pipeline allows it. */
  query(sql: string | QueryOptions, values?: QueryValues | QueryCallback, cb?: QueryCallback): QueryCommand
  execute(sql: string | QueryOptions, values?: QueryValues | QueryCallback, cb?: QueryCallback): void
}
export type QueryCallback = (err: Error | null, rows?: QueryResult, fields?: FieldPacket[]) => void

const noop = () => {}
const INTERNAL = Symbol('warden.mysql.internal')

/** Lease expiry in ms, never more than setTimeout's maximum. */
const timerDelay = (at: number) => Math.min(Math.max(at - Date.now(), 0), 2 ** 31 - 1)

/**
 * A mysql2 promise connection whose every command is described, decided, masked and audited
 * under the session from `source`. Mirrors `mysql2/promise`'s Connection.
 */
export class Connection {
  readonly #source: SessionSource
  readonly #core: Mysql2Connection
  readonly #target: Target
  readonly #lease: LeaseInfo
  readonly #release: (() => void) | undefined
  #released = false
  #tail: Promise<unknown> = Promise.resolve()
  #expiry: NodeJS.Timeout | undefined
  #facade: CallbackClient | undefined

  /** @internal Use `createConnection` or `pool.getConnection()`. */
  constructor(
    internal: typeof INTERNAL,
    source: SessionSource,
    core: Mysql2Connection,
    resource: Target['resource'],
    typeCast: unknown,
    lease: LeaseInfo,
    release?: () => void,
  ) {
    if (internal !== INTERNAL)
      throw new WardenTypeError('use createConnection(source, config) from @warden/drivers/mysql')
    this.#source = source
    this.#core = core
    this.#lease = lease
    this.#release = release
    const self = this
    this.#target = {
      resource,
      formatter: formatterFor(core.config),
      partition: core,
      multipleStatements: core.config.multipleStatements === true,
      typeCast,
      // Core refuses commands from another principal's session on it and records its lease.
      options: Object.freeze({ connection: lease.grant }),
      async acquire(): Promise<Lent> {
        self.#check()
        try {
          await ensureSqlMode(core)
        } catch (err) {
          core.destroy() // a session whose lexing we cannot follow is never used again
          throw err
        }
        return { conn: core, release: noop, retire: () => recheckSqlMode(core) }
      },
    }
    if (release === undefined) {
      // A dedicated connection ends with its lease: it is never used with an expired credential.
      this.#expiry = setTimeout(() => core.destroy(), timerDelay(lease.expiresAt))
      this.#expiry.unref()
      core.once('end', () => clearTimeout(this.#expiry))
    }
  }

  #check(): void {
    if (this.#released)
      throw new WardenError(
        'ERR_WARDEN_CONFIG',
        'this pool connection was released; get another with pool.getConnection()',
      )
    if (this.#lease.expiresAt <= Date.now()) {
      throw new WardenError(
        'ERR_WARDEN_LEASE_EXPIRED',
        'the credential of this connection has expired; open a new connection',
      )
    }
  }

  /** Commands of one connection run in call order, even when one waits for an approval. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn)
    this.#tail = run.then(noop, noop)
    return run
  }

  get threadId(): number | null {
    return this.#core.threadId
  }

  /** `query(sql, values)`: values are formatted in client-side, and the formatted text is what gets classified. */
  query<T = QueryResult>(sql: string | QueryOptions, values?: QueryValues): Promise<[T, FieldPacket[]]> {
    return this.#serial(() =>
      runQuery(this.#source, this.#target, createQuery(sql, values, noop, this.#core.config)),
    ) as Promise<[T, FieldPacket[]]>
  }

  /** `execute(sql, values)`: prepared-statement protocol; the template is classified, values travel apart. */
  execute<T = QueryResult>(sql: string | QueryOptions, values?: QueryValues): Promise<[T, FieldPacket[]]> {
    const options = executeOptions(sql, values)
    return this.#serial(() => runExecute(this.#source, this.#target, options)) as Promise<[T, FieldPacket[]]>
  }

  /** Prepares on this connection (runs nothing, so it is not decided); each `execute` is. */
  async prepare(sql: string | QueryOptions): Promise<PreparedStatement> {
    const text = typeof sql === 'string' ? sql : sql?.sql
    const stmt = await this.#serial(() => runPrepare(this.#source, this.#target, text as string))
    return preparedStatement(stmt, (values) =>
      this.#serial(() => runPrepared(this.#source, this.#target, stmt, values)),
    )
  }

  unprepare(sql: string | QueryOptions): void {
    this.#core.unprepare(sql)
  }

  async beginTransaction(): Promise<void> {
    await this.query('START TRANSACTION')
  }
  async commit(): Promise<void> {
    await this.query('COMMIT')
  }
  async rollback(): Promise<void> {
    await this.query('ROLLBACK')
  }

  ping(): Promise<void> {
    return new Promise((resolve, reject) => this.#core.ping((err) => (err ? reject(err) : resolve())))
  }

  /** Refused: it would switch accounts outside the broker. Throws ERR_WARDEN_DENIED. */
  async changeUser(_options?: unknown): Promise<void> {
    throw new WardenDeniedError(
      'mysql-driver',
      'changeUser is not allowed through Warden; credentials come from the broker',
    )
  }

  end(): Promise<void> {
    clearTimeout(this.#expiry)
    return new Promise((resolve, reject) => this.#core.end((err) => (err ? reject(err) : resolve())))
  }

  destroy(): void {
    clearTimeout(this.#expiry)
    this.#core.destroy()
  }

  /** Pool connections: hands the connection back to the pool; this object is unusable afterwards. */
  release(): void {
    if (this.#release === undefined || this.#released) return
    this.#released = true
    this.#release()
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

  /** The callback API of this connection (mysql2's `conn.connection`): `query(...)` returns a Query with `.stream()`. */
  get connection(): CallbackClient {
    this.#facade ??= callbackClient(
      (sql, values, cb) => createQuery(sql, values, cb as Mysql2Command['onResult'], this.#core.config),
      (cmd) => this.#serial(() => runQuery(this.#source, this.#target, cmd)),
      (options) => this.#serial(() => runExecute(this.#source, this.#target, options)),
    )
    return this.#facade
  }
}

export function executeOptions(
  sql: string | QueryOptions,
  values: QueryValues | undefined,
): Record<string, unknown> {
  if (typeof sql === 'object' && sql !== null) {
    return { ...sql, sql: sql.sql, values: (sql as { values?: unknown }).values || values }
  }
  return { sql, values }
}

function preparedStatement(
  stmt: Mysql2Statement,
  execute: (values: QueryValues | undefined) => Promise<Result>,
): PreparedStatement {
  return Object.freeze({
    query: stmt.query,
    execute: (values?: QueryValues) => execute(values) as Promise<[never, FieldPacket[]]>,
    close: async () => {
      stmt.close()
    },
  })
}

/** The callback facade shared by connections and pools. */
export function callbackClient(
  build: (sql: string | QueryOptions, values: unknown, cb: QueryCallback | undefined) => Mysql2Command,
  query: (cmd: Mysql2Command) => Promise<Result>,
  execute: (options: Record<string, unknown>) => Promise<Result>,
): CallbackClient {
  return Object.freeze({
    query(
      sql: string | QueryOptions,
      values?: QueryValues | QueryCallback,
      cb?: QueryCallback,
    ): QueryCommand {
      if (typeof values === 'function') {
        cb = values as QueryCallback
        values = undefined
      }
      const cmd = build(sql, values, cb)
      // The outcome reaches the caller through the command itself (callback, events, stream).
      query(cmd).catch(noop)
      return cmd as unknown as QueryCommand
    },
    execute(sql: string | QueryOptions, values?: QueryValues | QueryCallback, cb?: QueryCallback): void {
      if (typeof values === 'function') {
        cb = values as QueryCallback
        values = undefined
      }
      const done = cb
      execute(executeOptions(sql, values)).then(
        ([rows, fields]) => done?.(null, rows, fields as FieldPacket[]),
        (err) => done?.(err as Error),
      )
    },
  })
}

/**
 * Opens one guarded connection: the credential comes from `session.connect(resource)` for the
 * current session, lives only in the connection (never in `config`), and the connection ends
 * when the lease does. Only that session's principal runs commands on it (core refuses others as
 * `warden:connection-owner`), and each command's record names the lease. Mirrors
 * `mysql2/promise`'s `createConnection`.
 * Exported from `@warden/drivers/mysql`. Throws ERR_WARDEN_NO_SESSION, ERR_WARDEN_BROKER,
 * ERR_WARDEN_LEASE_EXPIRED; mysql2's connection errors (e.g. ER_ACCESS_DENIED_ERROR).
 * @example
 * const conn = await createConnection(warden, { resource: 'shop', host: 'db.internal', database: 'shop' })
 * const [rows] = await conn.query('SELECT id FROM orders WHERE id = ?', [42])
 */
export async function createConnection(
  source: SessionSource,
  config: GuardedConnectionOptions,
): Promise<Connection> {
  if (typeof source?.current !== 'function')
    throw new WardenTypeError('createConnection: the first argument must be a Warden or a Session')
  const { resource, core: coreOptions, typeCast } = splitConfig(config, 'createConnection')
  const session = source.current()
  loadParser().catch(noop) // loads while the lease and the handshake are in flight
  // The connection belongs to this session's principal (core checks it on every command).
  const grant = await session.connect(resource, { credentialType: 'password' })
  const lease = grant.lease
  if (lease.expiresAt.getTime() <= Date.now())
    throw new WardenError('ERR_WARDEN_LEASE_EXPIRED', 'the broker returned an expired lease')
  const { user, password } = passwordCredential(lease)
  // mysql2 dials in the constructor but reads the credential only when the server greets it.
  const core = createCoreConnection(coreOptions)
  setCredential(core.config, user, password)
  guardConnection(core)
  let fatal: Error | undefined
  core.on('error', (err: Error) => {
    fatal = err // fatal connection errors without a listener would crash the host
  })
  try {
    await new Promise<void>((resolve, reject) => {
      core.once('connect', () => resolve())
      core.once('error', reject)
      if (fatal) reject(fatal)
    })
  } catch (err) {
    core.destroy()
    throw err
  } finally {
    scrubCredential(core.config)
  }
  return new Connection(INTERNAL, source, core, resource, typeCast, leaseInfo(grant))
}

/** @internal For the pool. */
export function poolConnection(
  source: SessionSource,
  core: Mysql2Connection,
  resource: Target['resource'],
  typeCast: unknown,
  lease: LeaseInfo,
  release: () => void,
): Connection {
  return new Connection(INTERNAL, source, core, resource, typeCast, lease, release)
}
