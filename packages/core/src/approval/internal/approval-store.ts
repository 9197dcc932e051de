// The shared approval store behind webhookApprover and the approvals inbox: its public types, the
// refusal error, and the one waiting loop that both the Redis and the in-memory store use.
import { createHash } from 'node:crypto'
import { WardenError, WardenTypeError } from '@warden/policy'
import { fingerprint } from '../../internal/fingerprint.js'
import type { ApprovalOutcome, ApprovalRequest, Approver } from '../approver.js'
import { approverRefusal, eligibleGroups } from './approver-rules.js'

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired'

/** A request as the store keeps it, with its decision once there is one. */
export interface ApprovalRecord {
  readonly id: string
  readonly status: ApprovalStatus
  readonly request: ApprovalRequest
  readonly by?: string
  readonly reason?: string
  readonly decidedAt?: Date
  /**
   * Digest of the whole request as stored (what a reviewer is shown: command, bound values,
   * preview, reason, approvers). Pass it back as `decide(…, {requestDigest})`; it is signed into the
   * decision and the waiting command refuses one made on a request that differs from its own.
   */
  readonly requestDigest?: string
  /** Decisions so far, as the store holds them (for display: a waiting command verifies them itself). */
  readonly approvals?: readonly {
    readonly by: string
    readonly status: 'approved' | 'rejected'
    readonly decidedAt: Date
  }[]
}

export interface ApprovalDecisionInput {
  readonly status: 'approved' | 'rejected'
  /** The reviewer. Must not be the requesting principal when approving. */
  readonly by: string
  /**
   * The reviewer's groups, as your approver service authenticated them: matched against the rule's
   * approvers, and signed into the decision so the waiting command can check them too.
   */
  readonly groups?: readonly string[]
  readonly reason?: string
  /** The fingerprint the reviewer was shown; when given it must equal the request's. */
  readonly fingerprint?: string
  /**
   * The `requestDigest` of the record the reviewer was shown; when given it must equal the stored
   * request's (a request swapped in the store between display and decision is refused).
   */
  readonly requestDigest?: string
}

export type ApprovalEvent =
  | { readonly type: 'pending'; readonly record: ApprovalRecord }
  | {
      readonly type: 'decided'
      readonly id: string
      readonly status: 'approved' | 'rejected'
      readonly by: string
      readonly reason?: string
    }
  /** An approval that does not yet meet `minApprovals`. */
  | { readonly type: 'progress'; readonly id: string; readonly by: string; readonly approvals: number }
  | { readonly type: 'removed'; readonly id: string; readonly status: 'expired' | 'withdrawn' | 'used' }

/** An Approver whose pending requests and decisions live in a store that an inbox (and other instances) share. */
export interface ApprovalStore extends Approver {
  /** Registers the request as pending (without waiting). */
  open(request: ApprovalRequest): Promise<void>
  /** Waits for the decision of an opened request; consumes it (single use). Abort or expiry ⇒ `expired`. */
  wait(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome>
  /** Removes a pending or unconsumed request (its decision can then never be used). */
  withdraw(id: string): Promise<void>
  /** Pending requests, soonest expiry first. */
  pending(): Promise<ApprovalRecord[]>
  get(id: string): Promise<ApprovalRecord | undefined>
  /** Decides a pending request, atomically; throws ApprovalDecisionError when refused. */
  decide(id: string, decision: ApprovalDecisionInput): Promise<ApprovalRecord>
  /** Events from every instance sharing the store; returns the unsubscribe function. */
  subscribe(listener: (event: ApprovalEvent) => void): () => void
  close(): Promise<void>
}

export type DecisionRefusal =
  | 'unknown'
  | 'decided'
  | 'expired'
  | 'self-approval'
  | 'not-approver'
  | 'duplicate'
  | 'fingerprint'
  | 'invalid'

const REFUSALS = {
  unknown: 'no pending approval request with this id (unknown, withdrawn or expired)',
  decided: 'this approval request was already decided; decisions are single-use',
  expired: 'this approval request has expired',
  'self-approval': 'a requester cannot approve their own request',
  'not-approver': 'this reviewer is not one of the approvers the rule names',
  duplicate: 'this reviewer already decided this request; each reviewer counts once',
  fingerprint: 'the request changed since the reviewer saw it (fingerprint mismatch)',
  invalid: 'a decision needs status "approved" or "rejected" and a non-empty "by"',
} as const satisfies Record<DecisionRefusal, string>

/** A decision the store refused. `refusal` says why. */
export class ApprovalDecisionError extends WardenError {
  static override readonly code = 'ERR_WARDEN_APPROVAL_DECISION' as const
  readonly refusal: DecisionRefusal
  readonly id: string
  constructor(id: string, refusal: DecisionRefusal) {
    super('ERR_WARDEN_APPROVAL_DECISION', `approval ${id}: ${REFUSALS[refusal]}`)
    this.refusal = refusal
    this.id = id
  }
}

export function checkDecision(id: string, d: ApprovalDecisionInput): void {
  if (typeof d !== 'object' || d === null) throw new ApprovalDecisionError(id, 'invalid')
  if (d.status !== 'approved' && d.status !== 'rejected') throw new ApprovalDecisionError(id, 'invalid')
  if (typeof d.by !== 'string' || d.by.trim() === '') throw new ApprovalDecisionError(id, 'invalid')
  if (d.reason !== undefined && typeof d.reason !== 'string') throw new ApprovalDecisionError(id, 'invalid')
  if (d.groups !== undefined && (!Array.isArray(d.groups) || d.groups.some((g) => typeof g !== 'string')))
    throw new ApprovalDecisionError(id, 'invalid')
  if (d.requestDigest !== undefined && typeof d.requestDigest !== 'string')
    throw new ApprovalDecisionError(id, 'invalid')
}

/**
 * The store-side gate of a decision, before it is recorded: the reviewer must be allowed by the
 * rule (and not approve their own request), and the request must still be the operation its
 * fingerprint names (a request altered in the store cannot be shown to a reviewer as another).
 */
export function admitDecision(id: string, request: ApprovalRequest, d: ApprovalDecisionInput): number[] {
  const refusal = approverRefusal(request, d.status, d.by, d.groups ?? [])
  if (refusal !== undefined) throw new ApprovalDecisionError(id, refusal)
  // A command shown masked cannot be re-fingerprinted here; the waiting process checks the signed
  // requestDigest against the request it opened, so an altered stored request is refused there.
  const expected =
    request.commandMasked === true
      ? request.fingerprint
      : fingerprint(
          request.resource.kind,
          request.resource.name,
          request.action,
          request.command,
          request.parametersDigest,
        )
  if (expected !== request.fingerprint) throw new ApprovalDecisionError(id, 'fingerprint')
  if (d.fingerprint !== undefined && d.fingerprint !== request.fingerprint)
    throw new ApprovalDecisionError(id, 'fingerprint')
  if (d.requestDigest !== undefined && d.requestDigest !== requestDigest(request))
    throw new ApprovalDecisionError(id, 'fingerprint')
  return eligibleGroups(request, d.by, d.groups ?? [])
}

export function checkRequest(where: string, r: ApprovalRequest): void {
  if (typeof r?.id !== 'string' || r.id.length === 0 || r.id.length > 200)
    throw new WardenTypeError(`${where}: request.id must be a string of 1..200 chars`)
  if (typeof r.fingerprint !== 'string' || r.fingerprint.length === 0)
    throw new WardenTypeError(`${where}: request.fingerprint is required`)
  if (!(r.expiresAt instanceof Date) || Number.isNaN(r.expiresAt.getTime()))
    throw new WardenTypeError(`${where}: request.expiresAt must be a Date`)
  if (typeof r.principal?.id !== 'string')
    throw new WardenTypeError(`${where}: request.principal.id is required`)
}

// ---- serialization shared by the stores (Dates as ISO strings, bigints as strings)

export function encodeRequest(r: ApprovalRequest): string {
  return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
}

/**
 * sha256 over the whole request as encoded (not only the fingerprint's parts): signed into each
 * decision, so what the reviewer was shown (bound values, preview, reason) is the request the
 * waiting command computed.
 */
export function requestDigest(r: ApprovalRequest): string {
  return `sha256:${createHash('sha256').update(encodeRequest(r)).digest('hex')}`
}

export function decodeRequest(json: string): ApprovalRequest {
  const r = JSON.parse(json) as ApprovalRequest & { requestedAt: string; expiresAt: string }
  return { ...r, requestedAt: new Date(r.requestedAt), expiresAt: new Date(r.expiresAt) }
}

// ---- waiting

/** The longest single setTimeout (2^31-1 ms, ~24.8 days); longer waits are chained. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** What a store tells the waiting loop about one request. */
export type ConsumeResult =
  | { readonly state: 'pending' }
  | { readonly state: 'missing' }
  /** The outcome the waiting process accepted after checking every decision itself. */
  | { readonly state: 'decided'; readonly outcome: ApprovalOutcome }
  /** The store held a decision this process refuses (forged, replayed, not an approver): never a run. */
  | { readonly state: 'refused'; readonly error: Error }

export interface WaitBackend {
  /** Atomically takes the decision if there is one (so it can be used once). */
  consume(id: string): Promise<ConsumeResult>
  withdraw(id: string, status: 'expired' | 'withdrawn'): Promise<void>
  /** Calls `wake` when something about `id` may have changed; returns the unregister function. */
  watch(id: string, wake: () => void): () => void
}

/**
 * Waits for a decision: woken by the store's notifications, re-checked every `pollMs` as a
 * safety net (a lost pub/sub message must not hold a command until its timeout), bounded by the
 * request's expiry and the caller's signal. A store error rejects (fail closed) once reads have
 * failed for `outageMs` in a row (0: at the first failure).
 */
export function waitForDecision(
  backend: WaitBackend,
  request: ApprovalRequest,
  signal: AbortSignal,
  pollMs: number,
  clock: () => number = Date.now,
  outageMs = 0,
): Promise<ApprovalOutcome> {
  const { id, fingerprint } = request
  // When reads first failed in the current run of failures (a restart or failover in progress).
  let failingSince: number | undefined
  return new Promise<ApprovalOutcome>((resolve, reject) => {
    let done = false
    let checking = false
    let again = false
    const timers: NodeJS.Timeout[] = []
    let unwatch = () => {}
    const finish = (result: { outcome: ApprovalOutcome } | { error: unknown }) => {
      if (done) return
      done = true
      for (const t of timers) clearTimeout(t) // clearTimeout also clears intervals
      unwatch()
      signal.removeEventListener('abort', onAbort)
      if ('outcome' in result) resolve(result.outcome)
      else reject(result.error)
    }
    const expire = (reason: string, status: 'expired' | 'withdrawn') => {
      if (done) return
      backend.withdraw(id, status).then(
        () => finish({ outcome: { status: 'expired', reason, fingerprint, id } }),
        (error) => finish({ error }),
      )
    }
    const check = async () => {
      if (done) return
      if (checking) {
        again = true
        return
      }
      checking = true
      try {
        do {
          again = false
          const r = await backend.consume(id)
          failingSince = undefined
          if (done) return
          if (r.state === 'decided') return finish({ outcome: r.outcome })
          if (r.state === 'refused') return finish({ error: r.error })
          if (r.state === 'missing')
            return finish({
              outcome: {
                status: 'expired',
                reason: 'the approval request expired or was withdrawn',
                fingerprint,
                id,
              },
            })
        } while (again && !done)
      } catch (error) {
        // A store that cannot be read for a moment (a restart, a failover) is polled again; one
        // that stays down longer than `outageMs` ends the wait with its error (fail closed).
        failingSince ??= clock()
        if (clock() - failingSince >= outageMs) finish({ error })
      } finally {
        checking = false
      }
    }
    const onAbort = () => expire('the approval wait was cancelled (timeout or abort)', 'expired')
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    unwatch = backend.watch(id, () => void check())
    // setTimeout holds at most ~24.8 days: a longer window is waited for in legs.
    const leg = () => {
      const left = request.expiresAt.getTime() - clock()
      if (left <= 0) return expire('the approval request expired', 'expired')
      timers.push(setTimeout(leg, Math.min(left, MAX_TIMER_MS)))
    }
    leg()
    timers.push(setInterval(() => void check(), pollMs))
    void check()
  })
}
