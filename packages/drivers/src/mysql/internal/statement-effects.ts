// `sql.effects` of one MariaDB/MySQL statement: side effects a read-only transaction does not stop
// (or that are writes by another name), whether they make the statement a write, and what the
// statement does to the connection's transaction (tx-hints.ts). Checked against MariaDB 10.11
// under `SET SESSION TRANSACTION READ ONLY`: GET_LOCK, FLUSH, SET GLOBAL, KILL, INTO OUTFILE,
// LOAD_FILE, LOCK TABLES … READ and LOCK IN SHARE MODE all run there; LOCK TABLES … WRITE,
// FOR UPDATE, nextval/setval, temporary tables and DDL are refused (errno 1792).
import type { SqlEffect } from '@warden/policy'
import type { TxHint } from './tx-hints.js'

type Node = Record<string, unknown>
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Built-in functions with an effect, by name (lower-case; backquoted spellings resolve to the same
 * name; a qualified `db.get_lock` is a stored function, flagged all the same). `true`: a write.
 */
const FUNCTION_EFFECTS: ReadonlyMap<string, readonly [SqlEffect, boolean]> = new Map([
  ['get_lock', ['advisory_lock', false]],
  ['release_lock', ['advisory_lock', false]],
  ['release_all_locks', ['advisory_lock', false]],
  ['nextval', ['sequence', true]],
  ['setval', ['sequence', true]],
  ['lastval', ['sequence', false]],
  ['load_file', ['server_file', false]],
  // Spider plugin UDFs: run SQL text on a remote server (not installed by default; named all the same).
  ['spider_direct_sql', ['remote', true]],
  ['spider_bg_direct_sql', ['remote', true]],
  // Reviewed against MariaDB 10.11's function list and left plain: IS_FREE_LOCK/IS_USED_LOCK only
  // look, SLEEP/BENCHMARK/MASTER_POS_WAIT/MASTER_GTID_WAIT only wait, BINLOG_GTID_POS reads a position.
])

/** Session variables that change the transaction's access mode, its end, or autocommit. */
const TX_VARIABLES = new Set([
  'autocommit',
  'tx_read_only',
  'transaction_read_only',
  'completion_type',
  'tx_isolation',
  'transaction_isolation',
])
/** Of those, the ones that can turn the read-only mode off (or make COMMIT chain a transaction). */
const TX_WRITE_VARIABLES = new Set(['tx_read_only', 'transaction_read_only', 'completion_type'])

/** Statement types that commit an open transaction before they run (MariaDB "implicit commit"). */
const IMPLICIT_COMMIT = new Set([
  'CREATE',
  'ALTER',
  'DROP',
  'RENAME',
  'TRUNCATE',
  'GRANT',
  'REVOKE',
  'LOCK',
  'ANALYZE',
  'OPTIMIZE',
  'CHECK',
  'CHECKSUM',
  'REPAIR',
  'FLUSH',
])

export interface EffectsResult {
  readonly effects: readonly SqlEffect[]
  /** The effects make the statement a write. */
  readonly write: boolean
  readonly hint: TxHint
}

/**
 * Effects of one parsed statement. `key`/`body`: its sqlparser AST variant; `type`: its statement
 * type; `tokens`: its lexer tokens (upper-cased words); `functions`: the functions it calls;
 * `locks`: a FOR UPDATE/FOR SHARE clause anywhere in it.
 */
export function statementEffects(input: {
  key: string
  body: unknown
  type: string
  tokens: readonly string[]
  functions: readonly string[]
  locks: boolean
}): EffectsResult {
  const { key, body, type, tokens } = input
  const effects = new Set<SqlEffect>()
  let write = false
  let hint: TxHint = {}
  for (const f of input.functions) {
    const known = FUNCTION_EFFECTS.get(f.split('.').at(-1) ?? '')
    if (known === undefined) continue
    effects.add(known[0])
    write ||= known[1]
  }
  if (input.locks) {
    effects.add('lock')
    write = true
  }
  if (IMPLICIT_COMMIT.has(type)) hint = { commitsFirst: true }
  switch (key) {
    case 'LockTables':
      effects.add('lock')
      write = true
      break
    case 'UnlockTables':
      effects.add('lock')
      hint = { unsettles: true } // commits only if LOCK TABLES was active
      break
    case 'Kill':
      effects.add('signal_backend')
      break
    case 'Flush':
      effects.add('server_config')
      if (isNode(body) && body.read_lock === true) effects.add('lock')
      break
    case 'StartTransaction': {
      effects.add('transaction_control')
      const b = isNode(body) ? body : {}
      const modes = Array.isArray(b.modes) ? b.modes : []
      const rw = modes.some((m) => isNode(m) && m.AccessMode === 'ReadWrite')
      const ro = modes.some((m) => isNode(m) && m.AccessMode === 'ReadOnly')
      // A read-write transaction: everything in it runs without the server's read-only check.
      write = rw
      hint = { begin: rw ? 'rw' : ro ? 'ro' : 'plain' }
      break
    }
    case 'Commit':
    case 'Rollback': {
      effects.add('transaction_control')
      const b = isNode(body) ? body : {}
      if (b.chain === true) hint = { unsettles: true }
      else if (b.savepoint === undefined || b.savepoint === null) hint = { ends: true }
      break
    }
    case 'Savepoint':
    case 'ReleaseSavepoint':
      effects.add('transaction_control')
      break
    case 'Call':
    case 'Execute':
      hint = { unsettles: true } // a procedure or prepared statement may COMMIT or BEGIN
      break
    case 'Set':
      write = setEffects(body, tokens, effects, (h) => {
        hint = h
      })
      break
  }
  // XA (recognized MariaDB syntax): begins, ends or resumes an XA transaction; read back after.
  if (type === 'OTHER' || type === 'XA') hint = { commitsFirst: true, unsettles: true }
  return { effects: [...effects], write, hint }
}

/** SET: global settings are server_config (a write); transaction settings can end the read-only mode. */
function setEffects(
  body: unknown,
  tokens: readonly string[],
  effects: Set<SqlEffect>,
  setHint: (hint: TxHint) => void,
): boolean {
  if (!isNode(body)) return false
  let write = false
  // `SET GLOBAL x`, `SET @@global.x`, `SET PERSIST x`, `SET GLOBAL TRANSACTION …`: every session's defaults.
  if (tokens.some((t) => t === 'GLOBAL' || t === 'PERSIST' || t === 'PERSIST_ONLY')) {
    effects.add('server_config')
    write = true
  }
  if (isNode(body.SetTransaction)) {
    effects.add('transaction_control')
    effects.add('session_config')
    const modes = Array.isArray(body.SetTransaction.modes) ? body.SetTransaction.modes : []
    if (modes.some((m) => isNode(m) && m.AccessMode === 'ReadWrite')) write = true
    setHint({ unsettles: true })
    return write
  }
  if (isNode(body.SetRole)) {
    effects.add('role_change')
    return write
  }
  if ('SetNames' in body || 'SetNamesDefault' in body) {
    effects.add('session_config')
    return write
  }
  const names: unknown[] = []
  if (isNode(body.SingleAssignment)) names.push(body.SingleAssignment.variable)
  if (isNode(body.MultipleAssignments) && Array.isArray(body.MultipleAssignments.assignments))
    for (const a of body.MultipleAssignments.assignments) if (isNode(a)) names.push(a.name)
  for (const name of names) {
    const parts = Array.isArray(name) ? name.map(identValue) : [identValue(name)]
    const first = parts[0] ?? ''
    if (first.startsWith('@') && !first.startsWith('@@')) continue // a user variable
    const variable = (parts.at(-1) ?? '').replace(/^@@/, '').toLowerCase()
    if (variable === 'password') {
      // SET PASSWORD [FOR user] = …: changes an account (the server refuses it read-only too).
      effects.add('role_change')
      write = true
      continue
    }
    effects.add('session_config')
    if (variable === 'sql_log_bin') effects.add('wal')
    if (TX_VARIABLES.has(variable)) {
      effects.add('transaction_control')
      setHint({ unsettles: true })
      if (TX_WRITE_VARIABLES.has(variable)) write = true
    }
  }
  return write
}

function identValue(part: unknown): string {
  if (!isNode(part)) return ''
  const inner = isNode(part.Identifier) ? part.Identifier : part
  return typeof inner.value === 'string' ? inner.value : ''
}
