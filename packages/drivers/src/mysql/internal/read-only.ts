// Server-enforced read-only. No describer sees what a stored function, a view over one or a trigger
// writes; the server does. So a command the policy allowed as a read runs while the connection's
// session is `SET SESSION TRANSACTION READ ONLY`, and MariaDB refuses any write it attempts (errno
// 1792), which becomes a Warden refusal (rule `warden:read-only`).
//
// Cost: the session mode persists, so a pool of autocommit reads pays nothing per statement; the
// mode is switched (one round trip) only when an allowed write follows a read or the reverse.
//
// A transaction's access mode is fixed when it begins (MariaDB cannot switch an open one), so:
// - outside a transaction, the session mode is set per command (the statement is its own transaction);
// - a plain START TRANSACTION/BEGIN begins READ WRITE only if the policy would allow this principal
//   `START TRANSACTION READ WRITE`; otherwise READ ONLY (a reader's transaction is enforced too);
// - inside an open transaction the mode is the transaction's: reads in a READ ONLY one are
//   enforced; writes there are refused by the server; reads in a READ WRITE one run as part of a
//   transaction that only a command the policy allowed as a write could open.
// State is tracked per physical connection from the commands run; after anything we do not follow
// (a failure inside a transaction, CALL, XA, SET autocommit, unparsed text) it is read back from
// the server (`@@in_transaction`, `@@autocommit`) before the next command.
import type { SqlFacts } from '@warden/policy'
import { WardenDeniedError } from '@warden/policy'
import { createQuery, type Mysql2Connection } from '../mysql2-internals.js'
import { withTicket } from './guard.js'
import type { TxHint } from './tx-hints.js'

/** The rule name of a write the server refused under the read-only mode. */
export const READ_ONLY_RULE = 'warden:read-only'
/** ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION (MariaDB and MySQL). */
export const ER_READ_ONLY_TRANSACTION = 1792

const SET_RO = 'SET SESSION TRANSACTION READ ONLY'
const SET_RW = 'SET SESSION TRANSACTION READ WRITE'
const STATE = 'SELECT @@in_transaction AS t, @@autocommit AS a, @@tx_read_only AS r, @@completion_type AS c'

interface State {
  /** The session's access mode for its next transaction (`@@tx_read_only`), if known. */
  session: boolean | undefined
  /** The open transaction, as far as we know. */
  tx: 'none' | 'ro' | 'rw'
  autocommit: boolean
  /** `completion_type` is not NO_CHAIN: a COMMIT may begin the next transaction (CHAIN) or disconnect. */
  chains: boolean
  /** Read the state from the server before the next command: after a failure, or after text we do not follow. */
  stale: 'no' | 'failed' | 'unsettled'
}

const states = new WeakMap<Mysql2Connection, State>()

function stateOf(conn: Mysql2Connection): State {
  let s = states.get(conn)
  if (s === undefined) {
    s = { session: undefined, tx: 'none', autocommit: true, chains: false, stale: 'unsettled' }
    states.set(conn, s)
  }
  return s
}

/** The connection's session was reset (COM_RESET_CONNECTION): everything is read again. */
export function forgetMode(conn: Mysql2Connection): void {
  states.delete(conn)
}

/** How a command ran: whether the server refuses its writes, and in which transaction. */
export interface RunMode {
  readonly readOnly: boolean
  /** The caller's transaction the command ran in, if one was open. */
  readonly transaction: 'ro' | 'rw' | undefined
}

/**
 * The mode of a command on a connection already in the mode it needs (the common case: a read on
 * a connection left read-only), without a round trip or a promise; undefined when the connection
 * has to be asked or switched first (then `prepareMode`).
 */
export function modeIfReady(
  conn: Mysql2Connection,
  write: boolean,
  hint: TxHint,
  beginMayWrite: () => boolean,
): RunMode | undefined {
  const s = stateOf(conn)
  if (s.stale !== 'no' || !s.autocommit) return undefined
  const open = s.tx !== 'none'
  if (open && hint.begin === undefined && !hint.commitsFirst)
    return { readOnly: s.tx === 'ro', transaction: s.tx === 'none' ? undefined : s.tx }
  const readOnly =
    hint.begin === undefined ? !write : hint.begin === 'plain' ? !beginMayWrite() : hint.begin === 'ro'
  return s.session === readOnly ? { readOnly, transaction: undefined } : undefined
}

/**
 * Puts the connection in the mode an allowed command needs. `write` is the facts' `sql.write`;
 * `beginMayWrite` answers, for a plain BEGIN, whether the policy lets this principal write.
 */
export async function prepareMode(
  conn: Mysql2Connection,
  write: boolean,
  hint: TxHint,
  beginMayWrite: () => boolean,
): Promise<RunMode> {
  const s = stateOf(conn)
  if (s.stale !== 'no' || !s.autocommit) await refresh(conn, s)
  const open = s.tx !== 'none'
  if (open && hint.begin === undefined && !hint.commitsFirst)
    return { readOnly: s.tx === 'ro', transaction: s.tx === 'none' ? undefined : s.tx }
  // The command is (or begins) a transaction of its own: the session's mode decides it.
  const readOnly =
    hint.begin === undefined ? !write : hint.begin === 'plain' ? !beginMayWrite() : hint.begin === 'ro'
  if (s.session !== readOnly) {
    await serverQuery(conn, readOnly ? SET_RO : SET_RW)
    s.session = readOnly
  }
  return { readOnly, transaction: undefined }
}

/** After the command: what it did to the transaction. */
export function settleMode(conn: Mysql2Connection, hint: TxHint, failed: boolean): void {
  const s = stateOf(conn)
  if (hint.unsettles || (hint.ends && s.chains)) {
    s.stale = 'unsettled'
    return
  }
  if (failed && (s.tx !== 'none' || hint.begin || hint.ends || hint.commitsFirst)) {
    s.stale = 'failed' // a deadlock rolls the whole transaction back; a failed BEGIN may have committed
    return
  }
  if (failed) return // an autocommit statement failed: nothing is open
  if (hint.begin === 'ro' || hint.begin === 'rw') s.tx = hint.begin
  else if (hint.begin === 'plain') s.tx = s.session === true ? 'ro' : 'rw'
  else if (hint.ends || hint.commitsFirst) s.tx = 'none'
}

async function refresh(conn: Mysql2Connection, s: State): Promise<void> {
  const rows = (await serverQuery(conn, STATE)) as { t?: unknown; a?: unknown; r?: unknown; c?: unknown }[]
  const row = rows[0] ?? {}
  const open = Number(row.t) === 1
  s.autocommit = Number(row.a) === 1
  s.session = Number(row.r) === 1
  s.chains = String(row.c ?? '').toUpperCase() !== 'NO_CHAIN' && String(row.c) !== '0'
  // A failure cannot change an open transaction's mode; text we did not follow may have begun one
  // in any mode: treated as read-write (reads in it are not server-enforced; see the file comment).
  if (!open) s.tx = 'none'
  else if (s.stale === 'unsettled' || s.tx === 'none') s.tx = 'rw'
  s.stale = 'no'
}

function serverQuery(conn: Mysql2Connection, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const cmd = createQuery(sql, undefined, (err, rows) => (err ? reject(err) : resolve(rows)), conn.config)
    withTicket({ text: sql, masker: null, typeCast: undefined }, () => conn.query(cmd))
  })
}

/**
 * The error the caller gets for a server error of a command run in `mode`: a write the server
 * refused (1792) becomes ERR_WARDEN_DENIED with rule `warden:read-only`, naming what was refused.
 * Names only statement types and functions: never values.
 */
export function refusalFor(facts: SqlFacts, mode: RunMode): (err: unknown) => unknown {
  return (err) => {
    if ((err as { errno?: unknown } | null)?.errno !== ER_READ_ONLY_TRANSACTION) return err
    const what = `${facts.types.join('; ') || 'statement'}${
      facts.functions.length > 0 ? ` (calling ${facts.functions.join(', ')})` : ''
    }`
    const reason = !mode.readOnly
      ? `the server refused ${what}: it ran read-only`
      : mode.transaction === 'ro' && facts.write
        ? `the server refused ${what}: this transaction is read-only (it began as a read); end it and write outside it or in one begun with START TRANSACTION READ WRITE`
        : `the server refused a write by ${what}, which the policy allowed as a read: something it calls, reads through or fires (a stored function, a view, a trigger, a sequence) tried to change data`
    return new WardenDeniedError(READ_ONLY_RULE, reason)
  }
}
