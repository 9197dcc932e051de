// MariaDB statement forms sqlparser-rs (MySQL dialect) cannot read, each recognized whole and
// rewritten into a statement it can read with the same facts (the type, effects and write put back
// where the rewrite would lose them). Words from closed lists only; anything else is left to the
// parser, which fails on it: `parsed: false`.
import type { SqlEffect } from '@warden/policy'
import { type Edit, isName } from './mariadb-tokens.js'

export interface StatementForm {
  readonly edits: readonly Edit[]
  readonly part: {
    readonly count: 1
    readonly type?: string
    readonly write?: boolean
    readonly effects?: readonly SqlEffect[]
  }
}

/**
 * Server caches and counters `FLUSH` resets that the parser does not know (it knows STATUS, TABLES,
 * LOGS, PRIVILEGES, …). Replication (`MASTER`, `SLAVE`) is not among them.
 */
const FLUSH_OPTIONS = new Set([
  'THREADS',
  'SSL',
  'DES_KEY_FILE',
  'USER_STATISTICS',
  'TABLE_STATISTICS',
  'INDEX_STATISTICS',
  'CLIENT_STATISTICS',
  'USER_VARIABLES',
  'QUERY_RESPONSE_TIME',
  'THREAD_POOL_STATS',
  'THREAD_POOL_WAITS',
])
/** SHOW kinds whose `WHERE` the parser does not take (it does for SHOW TABLES). */
const SHOW_WITH_WHERE = new Set(['TRIGGERS', 'EVENTS', 'KEYS', 'INDEX', 'INDEXES'])

/** One of the forms below, or undefined. */
export function statementForm(t: readonly string[]): StatementForm | undefined {
  const first = t[0]
  if (first === 'FLUSH') return flush(t)
  if (first === 'SHOW') return showWhere(t)
  if (first === 'COMMIT' || first === 'ROLLBACK') return release(t)
  if (first === 'HELP' && t.length === 2 && isName(t[1]))
    return { edits: [whole(t, 'SELECT 1')], part: { count: 1, type: 'HELP' } }
  if (first === 'SET' && t[1] === 'NAMES' && t[3] === 'COLLATE' && t.length === 5) {
    // SET NAMES cs|DEFAULT COLLATE c|DEFAULT (flagged lexer_setting): the collation names nothing
    if ([t[2], t[4]].every((w) => isName(w) || w === "'"))
      return { edits: [{ from: 3, to: 5, replacement: '' }], part: { count: 1 } }
  }
  return undefined
}

/** `FLUSH [NO_WRITE_TO_BINLOG|LOCAL] opt [, opt]…`: as FLUSH STATUS (type FLUSH, server_config). */
function flush(t: readonly string[]): StatementForm | undefined {
  let k = t[1] === 'NO_WRITE_TO_BINLOG' || t[1] === 'LOCAL' ? 2 : 1
  for (;;) {
    if (!FLUSH_OPTIONS.has(t[k] ?? '')) return undefined
    k++
    if (k === t.length) break
    if (t[k++] !== ',') return undefined
  }
  return {
    edits: [whole(t, 'FLUSH STATUS')],
    part: { count: 1, type: 'FLUSH', write: true, effects: ['server_config'] },
  }
}

/**
 * `SHOW TRIGGERS|EVENTS|TABLE STATUS [FROM|IN db] WHERE expr`, `SHOW KEYS|INDEX FROM t [FROM db]
 * WHERE expr`: as `SHOW TABLES WHERE expr` (type SHOW), so expr's functions and subqueries are read.
 */
function showWhere(t: readonly string[]): StatementForm | undefined {
  let k = 1
  if (t[k] === 'FULL') k++
  if (t[k] === 'TABLE' && t[k + 1] === 'STATUS') k += 2
  else if (SHOW_WITH_WHERE.has(t[k] ?? '')) k++
  else return undefined
  for (let n = 0; n < 2 && (t[k] === 'FROM' || t[k] === 'IN'); n++) {
    if (!isName(t[k + 1])) return undefined
    k += 2
    if (t[k] === '.' && isName(t[k + 1])) k += 2
  }
  if (t[k] !== 'WHERE' || k + 1 === t.length) return undefined
  return { edits: [{ from: 0, to: k, replacement: 'SHOW TABLES' }], part: { count: 1, type: 'SHOW' } }
}

/**
 * `COMMIT|ROLLBACK [WORK] [AND [NO] CHAIN] [NO] RELEASE`: without the RELEASE clause (it ends the
 * session after the transaction; the statement is transaction control as before).
 */
function release(t: readonly string[]): StatementForm | undefined {
  const n = t.length
  const from = t[n - 2] === 'NO' ? n - 2 : n - 1
  if (t[n - 1] !== 'RELEASE') return undefined
  let k = 1
  if (t[k] === 'WORK') k++
  if (t[k] === 'AND') {
    k++
    if (t[k] === 'NO') k++
    if (t[k++] !== 'CHAIN') return undefined
  }
  if (k !== from) return undefined
  return { edits: [{ from, to: n, replacement: '' }], part: { count: 1 } }
}

function whole(t: readonly string[], replacement: string): Edit {
  return { from: 0, to: t.length, replacement }
}
