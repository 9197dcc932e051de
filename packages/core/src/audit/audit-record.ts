import type { Effect, PrincipalType, ResourceKind } from '@warden/policy'

export type OutcomeStatus = 'ok' | 'error' | 'denied' | 'rejected' | 'expired'

/**
 * Audit record version 1 (docs/architecture.md, packages/core/README.md). Core fills seq/prev/hash per sink.
 *
 * Write-ahead: a command that runs is recorded twice. Its `command` record (who, what, the
 * decision) is stored before the command is sent, without `outcome`; an {@link OutcomeRecord}
 * (`of` = the command record's id) is stored before the result reaches the caller. A command
 * refused before running has one `command` record that carries its `outcome`. Readers join the two
 * (memorySink's `records`, `warden audit replay`); a command record with no outcome anywhere means
 * the process ended while the command ran: its outcome is unknown.
 */
export interface AuditRecord {
  readonly v: 1
  readonly id: string
  readonly time: string
  readonly seq: number
  readonly session: string
  readonly prev: string
  readonly hash: string
  /** `command` for commands; `session.open`, `session.close`, `session.refused` for session events. */
  readonly type?: 'command' | 'session.open' | 'session.close' | 'session.refused'
  readonly principal: {
    readonly id: string
    readonly type: PrincipalType | ''
    readonly groups: readonly string[]
  }
  readonly resource?: { readonly kind: ResourceKind; readonly name: string }
  readonly action?: string
  readonly command?: string
  readonly facts?: Readonly<Record<string, unknown>>
  readonly decision?: {
    readonly effect: Effect
    readonly rule: string
    readonly reason: string
    readonly revision: string
    /** Shadow rules that matched: what each would have done (`effect`), without deciding. */
    readonly shadow?: readonly { readonly rule: string; readonly effect: Effect; readonly error?: string }[]
  }
  readonly approval?: { readonly id: string; readonly status: string; readonly by?: string }
  readonly outcome?: {
    readonly status: OutcomeStatus
    readonly rows?: number
    /** Bytes of output delivered to the caller, for a command whose output streamed. */
    readonly bytes?: number
    /** The caller abandoned the streamed output before it ended (status stays `ok`). */
    readonly cancelled?: boolean
    /** Exit status of a remote process (ssh exec). */
    readonly exit?: number
    /** Signal that ended a remote process (ssh exec), e.g. `SIGKILL`. */
    readonly signal?: string
    readonly ms: number
    readonly error?: string
    readonly code?: string
    /** The built-in rule of a refusal found while running (e.g. `warden:read-only`). */
    readonly rule?: string
  }
  readonly masked?: readonly { readonly column: string; readonly strategy: string; readonly count: number }[]
  readonly lease?: string
  /** Links, e.g. a session recording file. */
  readonly recording?: string
  /**
   * What else the policy saw, for replay/backtest (`warden audit replay`): the principal's issuer and
   * claims, the resource labels, and facts of families other than the action's own (whose facts are
   * the top-level `facts`). Never parameter values or secrets.
   */
  readonly request?: {
    readonly principal: {
      readonly id: string
      readonly type: string
      readonly groups: readonly string[]
      readonly issuer: string
      readonly claims: Readonly<Record<string, unknown>>
    }
    readonly resource?: {
      readonly kind: string
      readonly name: string
      readonly labels: Readonly<Record<string, string>>
    }
    /** Facts of other families, keyed by request field (`shell`, `kube`, ...), when a command has several. */
    readonly facts?: Readonly<Record<string, unknown>>
    /** What the command's causal chain had read and been tagged with when it was decided (absent when empty). */
    readonly flow?: { readonly reads: readonly string[]; readonly tags: readonly string[] }
  }
  /** Present ("fail-open") when the Warden was configured to keep running if a sink fails. */
  readonly auditFailure?: 'fail-open'
  readonly [extension: string]: unknown
}

/** Fields every line of the chain has. */
export interface ChainedRecord {
  readonly v: 1
  readonly id: string
  readonly time: string
  readonly seq: number
  readonly session: string
  readonly prev: string
  readonly hash: string
}

/** Stored before a command's result is released: how the command that `of` names ended. */
export interface OutcomeRecord extends ChainedRecord {
  readonly type: 'outcome'
  /** The `id` of the command record. */
  readonly of: string
  readonly outcome: NonNullable<AuditRecord['outcome']>
  readonly masked?: AuditRecord['masked']
  readonly recording?: string
  readonly auditFailure?: 'fail-open'
}

/**
 * Written by a file sink that reopened a log whose last line was torn (a write cut short by a crash
 * or a full disk): the torn bytes were removed, and this record says how many and their digest, so
 * the chain stays continuous and the repair itself is on the record.
 */
export interface RepairRecord extends ChainedRecord {
  readonly type: 'repair'
  readonly truncated: { readonly bytes: number; readonly sha256: string }
}

/** Any line of an audit chain, as a sink receives it. */
export type AuditEntry = AuditRecord | OutcomeRecord | RepairRecord
