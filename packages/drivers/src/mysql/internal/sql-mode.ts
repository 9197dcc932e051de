// The describer lexes text as the server does in its default sql_mode. Two modes change that:
// NO_BACKSLASH_ESCAPES (a backslash no longer escapes a quote, which also breaks mysql2's own
// client-side escaping) and ANSI_QUOTES ("…" becomes an identifier). A physical connection is
// checked before its first command, and again after any command flagged `lexer_setting` ran.
import { WardenError } from '@warden/policy'
import { createQuery, type Mysql2Connection } from '../mysql2-internals.js'
import { withTicket } from './guard.js'

const SQL = 'SELECT @@SESSION.sql_mode AS mode'
const UNSAFE = ['NO_BACKSLASH_ESCAPES', 'ANSI_QUOTES']

const verified = new WeakSet<Mysql2Connection>()
const everVerified = new WeakSet<Mysql2Connection>()

/** Whether this connection passed the check at least once (a fresh one failing means the server's mode is unsafe). */
export function passedOnce(conn: Mysql2Connection): boolean {
  return everVerified.has(conn)
}

/** Checks the connection's sql_mode unless it was checked since the last `lexer_setting` command. */
export async function ensureSqlMode(conn: Mysql2Connection): Promise<void> {
  if (verified.has(conn)) return
  await checkSqlMode(conn)
  verified.add(conn)
  everVerified.add(conn)
}

/** The next command on this connection re-checks its sql_mode first. */
export function recheckSqlMode(conn: Mysql2Connection): void {
  verified.delete(conn)
}

function checkSqlMode(conn: Mysql2Connection): Promise<void> {
  return new Promise((resolve, reject) => {
    const cmd = createQuery(
      SQL,
      undefined,
      (err, rows) => {
        if (err) return reject(err)
        const mode = String((rows as { mode?: unknown }[] | undefined)?.[0]?.mode ?? '').toUpperCase()
        const bad = UNSAFE.filter((m) => mode.split(',').includes(m))
        if (bad.length === 0) return resolve()
        reject(
          new WardenError(
            'ERR_WARDEN_UNSUPPORTED',
            `this MySQL session runs with sql_mode ${bad.join(', ')}, which changes how statements are lexed; Warden refuses to classify text for it (remove it from the server's or the user's sql_mode)`,
          ),
        )
      },
      conn.config,
    )
    withTicket({ text: SQL, masker: null, typeCast: undefined }, () => conn.query(cmd))
  })
}
