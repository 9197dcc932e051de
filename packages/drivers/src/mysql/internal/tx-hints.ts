// What a described text does to the connection's transaction state, for the read-only mode
// (read-only.ts). Recorded by describeMysql beside the facts (like derived columns), read back by
// the driver before and after the command runs.
import type { SqlFacts } from '@warden/policy'

export interface TxHint {
  /** A single START TRANSACTION / BEGIN: `plain` takes the session's access mode, the others their own. */
  readonly begin?: 'plain' | 'ro' | 'rw'
  /** A single COMMIT / ROLLBACK (no chain, not TO SAVEPOINT): no transaction is open afterwards. */
  readonly ends?: boolean
  /**
   * The statement commits an open transaction before it runs (DDL, LOCK/UNLOCK TABLES, ANALYZE/CHECK
   * TABLE, ...): it runs in the session's mode, not in the caller's transaction.
   */
  readonly commitsFirst?: boolean
  /** Anything else that may open, end or change a transaction or autocommit: the state is read from the server afterwards. */
  readonly unsettles?: boolean
}

const hints = new WeakMap<SqlFacts, TxHint>()
const NONE: TxHint = Object.freeze({})
/** Text we could not read may do anything to the transaction. */
const UNREAD: TxHint = Object.freeze({ commitsFirst: true, unsettles: true })

export function setTxHint(facts: SqlFacts, hint: TxHint): void {
  if (hint.begin !== undefined || hint.ends || hint.commitsFirst || hint.unsettles)
    hints.set(facts, Object.freeze({ ...hint }))
}

export function txHint(facts: SqlFacts): TxHint {
  if (!facts.parsed) return UNREAD
  return hints.get(facts) ?? NONE
}
