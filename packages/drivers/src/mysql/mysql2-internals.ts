// Every mysql2 internal this driver relies on, in one place: mysql2 >=3.14 <4 (written against
// 3.24.6), checked by test/mysql/internals.test.ts. If an upgrade moves one of them,
// `mysql2Problem()` names it and every guarded command is refused (ERR_WARDEN_UNSUPPORTED);
// nothing ever runs unguarded.
//
// 1. `BaseConnection#addCommand(cmd)`: every command of a connection passes it (Query, Prepare,
//    Execute, ChangeUser, Ping, Quit, BinlogDump, ...). Wrapped per instance: the tripwire.
// 2. `cmd.constructor.name`: the command kind ('Query', 'Execute', 'Prepare', 'ClientHandshake', ...).
// 3. `Query#sql` is the final text after `BaseConnection#query` formatted it; `Execute#sql` /
//    `Execute#statement.query` and `Prepare#query` hold the prepared text.
// 4. `BaseConnection.prototype.format` and `_resolveNamedPlaceholders` use only `this.config`,
//    so the text mysql2 will send can be computed before the command is queued.
// 5. `Query#_queryOptions` / `Execute#_executeOptions`: per-command options merged at `start`.
// 6. Query/Execute assign `this._rowParser` once per result set, after the 'fields' event, and
//    call `this._rowParser.next(packet, fields, options)` per row: masking wraps that parser.
// 7. A command fails by `onResult(err)` or `emit('error')`, then `emit('end')` (pools release on 'end').
// 8. `BasePool#_createConnectionConfig()` makes each new physical connection's config: the one
//    place a per-connection credential goes in. `ConnectionConfig#password*` is read only by
//    the handshake (and ChangeUser, which is refused), and copied into `cmd.options` at start.
// 9. `BasePool#getConnection` creates a connection synchronously (no await before
//    `_createConnectionConfig`).
// 10. `ColumnDefinition#orgTable`, `#orgName`, `#schema`: the real origin of a result column.
import { createRequire } from 'node:module'
import mysql from 'mysql2'

export const MYSQL2_RANGE = '>=3.14.0 <4.0.0'

// mysql2 internals are untyped
export type Any = any

/** A mysql2 command object (Query, Execute, Prepare, ...). */
export interface Mysql2Command {
  readonly constructor: { readonly name: string }
  sql?: string
  values?: unknown
  query?: string
  statement?: { readonly query?: string }
  namedPlaceholders?: boolean
  onResult?: ((err: Error | null, rows?: unknown, fields?: unknown) => void) | undefined
  _queryOptions?: Record<string, unknown>
  _executeOptions?: Record<string, unknown>
  _rowParser?: unknown
  emit(event: string, ...args: unknown[]): boolean
  on(event: string, listener: (...args: Any[]) => void): unknown
  once(event: string, listener: (...args: Any[]) => void): unknown
  listenerCount(event: string): number
}

/** A mysql2 core (callback) connection: `Connection` or `PoolConnection`. */
export interface Mysql2Connection {
  config: Record<string, unknown>
  threadId: number | null
  addCommand(cmd: Mysql2Command): Mysql2Command
  query(cmd: Mysql2Command): Mysql2Command
  execute(
    options: Record<string, unknown>,
    cb: (err: Error | null, rows?: unknown, fields?: unknown) => void,
  ): Mysql2Command
  prepare(
    options: Record<string, unknown>,
    cb: (err: Error | null, stmt?: Mysql2Statement) => void,
  ): Mysql2Command
  unprepare(sql: unknown): unknown
  format(sql: string, values?: unknown): string
  escape(value: unknown): string
  escapeId(value: unknown): string
  ping(cb: (err: Error | null) => void): unknown
  end(cb?: (err?: Error | null) => void): unknown
  destroy(): void
  release?(): void
  on(event: string, listener: (...args: Any[]) => void): unknown
  once(event: string, listener: (...args: Any[]) => void): unknown
  removeListener(event: string, listener: (...args: Any[]) => void): unknown
}

export interface Mysql2Statement {
  readonly query: string
  readonly id: number
  execute(values: unknown, cb: (err: Error | null, rows?: unknown, fields?: unknown) => void): Mysql2Command
  close(): unknown
}

export interface Mysql2Pool {
  config: { connectionConfig: Record<string, unknown>; connectionLimit: number }
  getConnection(cb: (err: Error | null, conn?: Mysql2Connection) => void): void
  releaseConnection(conn: Mysql2Connection): void
  end(cb?: (err?: Error | null) => void): void
  _createConnectionConfig(): Record<string, unknown>
  on(event: string, listener: (...args: Any[]) => void): unknown
  escape(value: unknown): string
  escapeId(value: unknown): string
  format(sql: string, values?: unknown): string
}

/** The result column facts masking needs. */
export interface Mysql2Field {
  readonly name: string
  readonly table: string
  readonly orgTable: string
  readonly orgName: string
  readonly schema: string
}

const require = createRequire(import.meta.url)
const CoreConnection = (mysql as Any).Connection as Any

/** The installed mysql2 version. */
export const mysql2Version: string = (() => {
  try {
    return String(require('mysql2/package.json').version)
  } catch {
    return 'unknown'
  }
})()

/** What is wrong with the installed mysql2 for this driver, or '' when everything it relies on is there. */
export function mysql2Problem(): string {
  const [major, minor] = mysql2Version.split('.').map(Number)
  if (major !== 3 || !(minor >= 14))
    return `mysql2 ${mysql2Version} is outside the supported range ${MYSQL2_RANGE}`
  const proto = CoreConnection?.prototype
  if (typeof proto?.addCommand !== 'function') return 'mysql2 Connection#addCommand moved'
  if (typeof proto.format !== 'function' || typeof proto._resolveNamedPlaceholders !== 'function') {
    return 'mysql2 Connection#format/_resolveNamedPlaceholders moved'
  }
  if (typeof (mysql as Any).createQuery !== 'function') return 'mysql2 createQuery moved'
  const Pool = (mysql as Any).Pool
  if (typeof Pool?.prototype?._createConnectionConfig !== 'function')
    return 'mysql2 Pool#_createConnectionConfig moved'
  const probe = (mysql as Any).createQuery('SELECT 1', [], undefined, {})
  if (probe?.constructor?.name !== 'Query' || !('_queryOptions' in probe) || !('_rowParser' in probe)) {
    return 'mysql2 Query#_queryOptions/_rowParser moved'
  }
  return ''
}

/** The command kind: its class name. */
export function commandKind(cmd: Mysql2Command): string {
  return cmd?.constructor?.name ?? ''
}

/** Builds a Query command exactly as `conn.query(sql, values, cb)` would, without queueing it. */
export function createQuery(
  sql: unknown,
  values: unknown,
  cb: Mysql2Command['onResult'],
  config: Record<string, unknown>,
): Mysql2Command {
  return (mysql as Any).createQuery(sql, values, cb, config) as Mysql2Command
}

/** Computes the text mysql2 will send, for connections with `config` (mirrors `BaseConnection#query` / `#execute`). */
export interface Formatter {
  /** The text `conn.query(cmd)` will send: named placeholders resolved, values formatted in. */
  query(cmd: Mysql2Command): string
  /** The text `conn.execute(options)` will prepare: named placeholders resolved. */
  execute(options: Record<string, unknown>): string
  /**
   * What `conn.query(cmd)` will do with the command: its text with named placeholders resolved to
   * `?` (the template), the values in placeholder order, and the text it will send.
   */
  resolveQuery(cmd: Mysql2Command): {
    readonly template: string
    readonly values: unknown
    readonly text: string
  }
  /** One value as `format` writes it for a `?` (mysql2's escape, with this config's timezone). */
  escape(value: unknown): string
}

export function formatterFor(config: Record<string, unknown>): Formatter {
  // `format` and `_resolveNamedPlaceholders` read only `this.config` (and call each other).
  const self = Object.create(CoreConnection.prototype) as Any
  self.config = config
  return {
    query(cmd) {
      const probe: Any = { sql: cmd.sql, values: cmd.values, namedPlaceholders: cmd.namedPlaceholders }
      self._resolveNamedPlaceholders(probe)
      return self.format(probe.sql, probe.values !== undefined ? probe.values : [], probe.namedPlaceholders)
    },
    resolveQuery(cmd) {
      const probe: Any = { sql: cmd.sql, values: cmd.values, namedPlaceholders: cmd.namedPlaceholders }
      self._resolveNamedPlaceholders(probe)
      const values = probe.values !== undefined ? probe.values : []
      return { template: probe.sql, values, text: self.format(probe.sql, values, probe.namedPlaceholders) }
    },
    escape(value) {
      return self.escape(value)
    },
    execute(options) {
      const probe: Any = {
        sql: options.sql,
        values: options.values,
        namedPlaceholders: options.namedPlaceholders,
      }
      self._resolveNamedPlaceholders(probe)
      return probe.sql
    },
  }
}

/** The prepared text of an Execute/Prepare command. */
export function preparedText(cmd: Mysql2Command): string | undefined {
  const kind = commandKind(cmd)
  if (kind === 'Prepare') return cmd.query
  return cmd.sql ?? cmd.statement?.query
}

/** The per-command options object merged at `start` (typeCast, rowsAsArray, nestTables). */
export function commandOptions(cmd: Mysql2Command): Record<string, unknown> | undefined {
  return cmd._queryOptions ?? cmd._executeOptions
}

/** Fails a command the way mysql2's own error path does, so callbacks, promises and pools all see it. */
export function failCommand(cmd: Mysql2Command, error: Error): Mysql2Command {
  process.nextTick(() => {
    if (typeof cmd.onResult === 'function') cmd.onResult(error)
    else if (cmd.listenerCount('error') > 0) cmd.emit('error', error) // no listener: never crash the host
    cmd.emit('end')
  })
  return cmd
}

/** Replaces `conn.addCommand` on this instance only. */
export function wrapAddCommand(
  conn: Mysql2Connection,
  wrap: (orig: (cmd: Mysql2Command) => Mysql2Command) => (cmd: Mysql2Command) => Mysql2Command,
): void {
  const orig = conn.addCommand.bind(conn)
  conn.addCommand = wrap(orig)
}

/** Intercepts the row parser of one command (set once per result set) with `wrap`. */
export function interceptRowParser(
  cmd: Mysql2Command,
  wrap: (parser: {
    next: (packet: unknown, fields: Mysql2Field[], options: Record<string, unknown>) => unknown
  }) => unknown,
): void {
  let current: unknown = cmd._rowParser ?? null
  Object.defineProperty(cmd, '_rowParser', {
    configurable: true,
    enumerable: false,
    get: () => current,
    set: (parser) => {
      current = parser == null ? parser : wrap(parser)
    },
  })
}

const PASSWORD_KEYS = ['password', 'password1', 'password2', 'password3', 'passwordSha1'] as const

/** Puts a credential into one connection's config, hidden from util.inspect and JSON (non-enumerable). */
export function setCredential(config: Record<string, unknown>, user: string, password: string): void {
  config.user = user
  for (const key of PASSWORD_KEYS) delete config[key]
  Object.defineProperty(config, 'password', {
    value: password,
    enumerable: false,
    writable: true,
    configurable: true,
  })
}

/** Removes every password from a connection's config once the handshake is done. */
export function scrubCredential(config: Record<string, unknown>): void {
  for (const key of PASSWORD_KEYS) delete config[key]
}

/** Replaces a pool's per-connection config factory on this instance. */
export function hookConnectionConfig(
  pool: Mysql2Pool,
  after: (config: Record<string, unknown>) => void,
): void {
  const orig = pool._createConnectionConfig.bind(pool)
  pool._createConnectionConfig = () => {
    const config = orig()
    after(config)
    return config
  }
}

export const createCorePool = (config: Record<string, unknown>): Mysql2Pool =>
  (mysql as Any).createPool(config) as Mysql2Pool
export const createCoreConnection = (config: Record<string, unknown>): Mysql2Connection =>
  (mysql as Any).createConnection(config) as Mysql2Connection
