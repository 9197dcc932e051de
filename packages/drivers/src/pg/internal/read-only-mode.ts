// The server enforces what policy allowed as a read: a guarded connection keeps its session in
// `default_transaction_read_only = on`, so every transaction a read starts is read-only and
// PostgreSQL refuses any write it attempts (through a function, view, operator, trigger...).
// It switches off only for an allowed write, and back on for the next read (one round trip at a
// read/write transition; none for a run of reads). PostgreSQL 14+ reports the setting in
// ParameterStatus, so a statement that changed it (set_config inside a function) is noticed and
// the next read switches it back first.
//
// Inside the caller's own transaction: one begun READ ONLY (or by a read) is read-only already;
// in a read-write one, each read runs in a savepoint with `SET LOCAL transaction_read_only = on`
// that is rolled back after it (two round trips). A SQL cursor cannot outlive such a savepoint,
// so DECLARE in a read-write transaction is refused. See docs/pg.md, "Server-enforced reads".

import type { SqlFacts } from '@warden/policy'
import { WardenDeniedError, WardenError } from '@warden/policy'
import { parseSync } from 'libpg-query'

export const READ_ONLY_RULE = 'warden:read-only'
const SAVEPOINT = 'warden_read_only'
const OPEN_SAVEPOINT = `SAVEPOINT ${SAVEPOINT}; SET LOCAL transaction_read_only = on`
const CLOSE_SAVEPOINT = `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`

/** Statement types that run no user code and change no data: they run as they are, in any mode. */
const INERT: ReadonlySet<string> = new Set([
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'SET',
  'RESET',
  'SHOW',
  'LISTEN',
  'UNLISTEN',
  'DEALLOCATE',
  'CLOSE',
  'DISCARD',
])

export interface ModeChannel {
  /** Transaction status from the last ReadyForQuery ('I', 'T', 'E'). */
  status(): string | undefined
  /** default_transaction_read_only as the server last reported it. */
  sessionReadOnly(): boolean | undefined
  /** Runs the driver's own statement (not audited). */
  control(text: string): Promise<unknown>
}

type Kind = 'read' | 'write' | 'inert' | 'begin'

export interface ModePlan {
  readonly kind: Kind
  /** The server refuses writes while this command runs (a 25006 from it is a Warden refusal). */
  readonly readOnly: boolean
  readonly savepoint: boolean
  readonly opened: boolean
}

/** The common path: an autocommit read on a connection that is read-only already. */
const PLAIN_READ: ModePlan = Object.freeze({ kind: 'read', readOnly: true, savepoint: false, opened: true })

export class ReadOnlyMode {
  readonly #channel: ModeChannel
  /** Mode of the open transaction; undefined outside one. Unknown counts as read-write. */
  #tx: 'ro' | 'rw' | undefined

  constructor(channel: ModeChannel) {
    this.#channel = channel
  }

  /**
   * Puts the connection in the mode `facts` need; call when nothing else is running on it.
   * Synchronous (no round trip) on the common path.
   */
  prepare(facts: SqlFacts): ModePlan | Promise<ModePlan> {
    const status = this.#channel.status()
    const kind = kindOf(facts)
    if (kind === 'read' && status === 'I' && this.#channel.sessionReadOnly() === true) {
      this.#tx = undefined
      return PLAIN_READ
    }
    return this.#prepare(facts, kind, status)
  }

  async #prepare(facts: SqlFacts, kind: Kind, status: string | undefined): Promise<ModePlan> {
    const channel = this.#channel
    const inTx = status === 'T' || status === 'E'
    if (!inTx) this.#tx = undefined
    if (kind === 'inert' || kind === 'begin')
      return { kind, readOnly: channel.sessionReadOnly() === true && !inTx, savepoint: false, opened: !inTx }
    if (kind === 'write') {
      if (!inTx && channel.sessionReadOnly() !== false)
        await channel.control('SET default_transaction_read_only = off')
      return { kind, readOnly: false, savepoint: false, opened: !inTx }
    }
    if (!inTx) {
      if (channel.sessionReadOnly() !== true) await channel.control('SET default_transaction_read_only = on')
      if (channel.sessionReadOnly() !== true) throw unreported()
      return { kind, readOnly: true, savepoint: false, opened: true }
    }
    // A failed transaction refuses everything but its end; a read-only one refuses writes itself.
    if (status === 'E' || this.#tx === 'ro') return { kind, readOnly: true, savepoint: false, opened: false }
    if (facts.types.includes('DECLARE')) {
      throw new WardenDeniedError(
        READ_ONLY_RULE,
        'a cursor declared inside a read-write transaction cannot be kept read-only by the server; declare it in a transaction begun with BEGIN READ ONLY, or outside a transaction WITH HOLD',
      )
    }
    await channel.control(OPEN_SAVEPOINT)
    return { kind, readOnly: true, savepoint: true, opened: false }
  }

  /** After the command's ReadyForQuery: close the savepoint, note the transaction's mode. */
  finish(plan: ModePlan, facts: SqlFacts, ok: boolean): Promise<void> | undefined {
    if (plan === PLAIN_READ && this.#channel.status() === 'I') return undefined
    return this.#finish(plan, facts, ok)
  }

  async #finish(plan: ModePlan, facts: SqlFacts, ok: boolean): Promise<void> {
    const channel = this.#channel
    let status = channel.status()
    // After a failure the transaction is aborted, as PostgreSQL would have it: the savepoint stays.
    if (plan.savepoint && ok && status === 'T') {
      await channel.control(CLOSE_SAVEPOINT)
      status = channel.status()
    }
    if (status !== 'T' && status !== 'E') {
      this.#tx = undefined
      return
    }
    if (plan.kind === 'write') {
      this.#tx = 'rw' // a write may have made the transaction read-write (SET TRANSACTION READ WRITE)
      return
    }
    if (!plan.opened || this.#tx !== undefined) return
    if (plan.kind === 'begin' && ok && status === 'T' && !beginsReadOnly(facts.text)) {
      // A plain BEGIN is read-write, as the caller expects (its writes must work): the session's
      // read-only default made it read-only, so switch it before it has run anything.
      if (channel.sessionReadOnly() !== false) await channel.control('SET TRANSACTION READ WRITE')
      this.#tx = 'rw'
      return
    }
    // Opened by a read (the session's read-only default applied) or by BEGIN READ ONLY.
    this.#tx = plan.readOnly || plan.kind === 'begin' ? 'ro' : 'rw'
  }

  /** The approval guard ran a write in its own transaction or savepoint. */
  wrote(): void {
    const status = this.#channel.status()
    this.#tx = status === 'T' || status === 'E' ? 'rw' : undefined
  }

  /** The error a command's caller sees: a server refusal under read-only mode becomes a Warden refusal. */
  refusal(plan: ModePlan | undefined, err: Error): Error {
    if (plan?.readOnly !== true || (err as { code?: unknown }).code !== '25006') return err
    return new WardenDeniedError(
      READ_ONLY_RULE,
      `the server refused a write in a command allowed as a read (SQLSTATE 25006: ${err.message})`,
    )
  }
}

function kindOf(facts: SqlFacts): Kind {
  if (facts.write) return 'write'
  if (facts.parsed && facts.functions.length === 0 && facts.types.every((t) => INERT.has(t))) {
    return facts.statements.length === 1 && facts.types[0] === 'BEGIN' ? 'begin' : 'inert'
  }
  return 'read'
}

/** Whether a lone BEGIN / START TRANSACTION asks for READ ONLY. */
function beginsReadOnly(text: string): boolean {
  const stmt = (parseSync(text) as unknown as { stmts: { stmt: Record<string, Record<string, unknown>> }[] })
    .stmts[0]?.stmt.TransactionStmt
  for (const option of (stmt?.options as { DefElem?: Record<string, unknown> }[] | undefined) ?? []) {
    const def = option.DefElem
    if (def?.defname !== 'transaction_read_only') continue
    const value = ((def.arg as Record<string, Record<string, Record<string, unknown>>>)?.A_Const?.ival
      ?.ival ?? 0) as number
    return value !== 0
  }
  return false
}

function unreported(): WardenError {
  return new WardenError(
    'ERR_WARDEN_UNSUPPORTED',
    'the server did not report default_transaction_read_only, so Warden cannot keep reads read-only: PostgreSQL 14 or newer is needed (connect directly, not through a proxy that hides ParameterStatus)',
  )
}

export { unreported as readOnlyUnreported }
