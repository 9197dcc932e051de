// The server as the oracle for bench/mysql/corpus.ts: runs each statement of a mysqltest file on a
// private MariaDB (never a shared one: the suite changes global state), in a scratch database of its
// own (MYSQL_ORACLE_DATABASE, default warden_mtr; never `test`), first under
// SET SESSION TRANSACTION READ ONLY, then, if the server refused it there, read-write so that
// later statements of the file see its effects.
import mysql from 'mysql2/promise'

export interface OracleResult {
  /** The server ran it without error (read-only, or read-write after a read-only refusal). */
  readonly ok: boolean
  /** The server ran it read-only: a read, by the server's account. */
  readonly read: boolean
  /** The describer called it a read, and the server refused it as a write (errno 1792). */
  readonly readOnlyRefused: boolean
  /** The server refused it read-only (errno 1792), whatever the describer said. */
  readonly refusedReadOnly: boolean
}

export interface Oracle {
  beginFile(name: string): Promise<void>
  run(text: string, describedAsRead: boolean): Promise<OracleResult>
  close(): Promise<void>
}

const SKIP =
  /^\s*(shutdown|kill|flush\s+privileges|binlog|install|uninstall|set\s+(global\s+)?(session\s+)?debug|change\s+master|start\s+slave|stop\s+slave)/i
/**
 * What would lock the oracle out of its own server: changes to its user (ORACLE_USER, which the
 * suite never names, holds ALL WITH GRANT OPTION: create it before the run) or to the privilege
 * tables directly, and SET PASSWORD / ALTER USER of the current user.
 */
const ORACLE_USER = process.env.MYSQL_ORACLE_USER ?? 'warden_oracle'
const LOCKOUT = new RegExp(
  [
    `\\b${ORACLE_USER}\\b`,
    '^\\s*set\\s+password\\s*=',
    '^\\s*alter\\s+user\\s+current_user\\b',
    '\\bcurrent_user\\b[\\s\\S]*\\b(password|identified)\\b|\\b(password|identified)\\b[\\s\\S]*\\bcurrent_user\\b',
    // the system schema (users, privileges, mysql.proc, ...): by name or after USE mysql
    '\\b(delete|update|insert|replace|truncate|drop|alter|rename|create|load|lock)\\b[\\s\\S]*[\\s(,`]mysql`?\\s*\\.',
    '^\\s*(use|drop\\s+(database|schema))\\s+(if\\s+exists\\s+)?`?(mysql|performance_schema|information_schema|sys)\\b',
    '\\bsecure_auth\\b',
  ].join('|'),
  'i',
)

const DATABASE = process.env.MYSQL_ORACLE_DATABASE ?? 'warden_mtr'
if (!/^[a-z_][a-z0-9_]*$/.test(DATABASE) || DATABASE === 'test')
  throw new Error(`MYSQL_ORACLE_DATABASE must be a plain name other than test: ${DATABASE}`)

export async function openOracle(port: number): Promise<Oracle> {
  // A connection of its own that no statement of the suite runs on: it stays logged in whatever the
  // suite does to users, and restores the oracle's user before each file.
  const admin = await mysql.createConnection({ host: '127.0.0.1', port, user: ORACLE_USER })
  const restoreUser = async () => {
    for (const host of ['localhost', '%']) {
      await admin.query(`CREATE OR REPLACE USER '${ORACLE_USER}'@'${host}'`)
      await admin.query(`GRANT ALL PRIVILEGES ON *.* TO '${ORACLE_USER}'@'${host}' WITH GRANT OPTION`)
    }
  }
  let conn: mysql.Connection | undefined
  let readOnly = false
  // One database per file (DATABASE_1, DATABASE_2, ...): a file can leave a stray file in its
  // database's directory (INTO OUTFILE 'db/x'), and then DROP DATABASE fails.
  let files = 0
  let database = DATABASE
  const connect = async () => {
    conn = await mysql.createConnection({
      host: '127.0.0.1',
      port,
      user: ORACLE_USER,
      multipleStatements: false,
    })
    conn.on('error', () => {
      conn = undefined
    })
    readOnly = false
    // A statement waits for nothing: not for a lock another file's event left, not for a sleep.
    await conn.query(
      'SET SESSION max_statement_time = 3, lock_wait_timeout = 2, innodb_lock_wait_timeout = 2',
    )
    await conn.query('SET GLOBAL event_scheduler = OFF')
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${database}`)
    await conn.query(`USE ${database}`)
  }
  const mode = async (ro: boolean) => {
    if (conn === undefined) await connect()
    if (readOnly === ro) return
    await (conn as mysql.Connection).query(
      ro ? 'SET SESSION TRANSACTION READ ONLY' : 'SET SESSION TRANSACTION READ WRITE',
    )
    readOnly = ro
  }
  const attempt = async (text: string): Promise<number> => {
    const c = conn as mysql.Connection
    // SLEEP and metadata-lock waits ignore max_statement_time: kill the statement's connection.
    const watchdog = setTimeout(() => {
      admin.query(`KILL ${c.threadId}`).catch(() => undefined)
    }, 5000)
    try {
      await c.query(text)
      return 0
    } catch (err) {
      const errno = (err as { errno?: number }).errno
      if (errno === undefined || conn === undefined) {
        conn?.destroy()
        conn = undefined
        return -1
      }
      return errno
    } finally {
      clearTimeout(watchdog)
    }
  }
  return {
    async beginFile(name) {
      conn?.destroy()
      conn = undefined
      try {
        const previous = database
        database = `${DATABASE}_${++files}`
        await restoreUser()
        await connect()
        const c = conn as unknown as mysql.Connection
        await c.query(`DROP DATABASE IF EXISTS ${previous}`).catch(() => undefined)
        await c.query(`DROP DATABASE IF EXISTS ${database}`)
        await c.query(`CREATE DATABASE ${database}`)
        await c.query(`USE ${database}`)
      } catch (err) {
        // Every later figure would be wrong: stop.
        throw new Error(`${name}: could not reset the oracle (${(err as Error).message})`)
      }
    },
    async run(text, describedAsRead) {
      if (SKIP.test(text) || LOCKOUT.test(text))
        return { ok: false, read: false, readOnlyRefused: false, refusedReadOnly: false }
      try {
        await mode(true)
        const ro = await attempt(text)
        if (ro === 0) return { ok: true, read: true, readOnlyRefused: false, refusedReadOnly: false }
        if (ro === -1) return { ok: false, read: false, readOnlyRefused: false, refusedReadOnly: false }
        // An open transaction keeps its mode: end it so the retry really is read-write.
        await attempt('ROLLBACK')
        await mode(false)
        const rw = await attempt(text)
        return {
          ok: rw === 0,
          read: false,
          readOnlyRefused: ro === 1792 && describedAsRead,
          refusedReadOnly: ro === 1792,
        }
      } catch {
        conn?.destroy()
        conn = undefined
        return { ok: false, read: false, readOnlyRefused: false, refusedReadOnly: false }
      }
    },
    async close() {
      await conn?.end().catch(() => undefined)
      await admin.end().catch(() => undefined)
    },
  }
}
