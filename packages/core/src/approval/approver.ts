import type { ApproverGroup, Principal, ResourceRef } from '@warden/policy'

export interface ApprovalPreview {
  /** Human-readable summary, e.g. "UPDATE orders: 3 rows". */
  readonly summary: string
  /** Rows affected per statement, when known. */
  readonly rowsAffected?: readonly number[]
  /** A masked sample of changed rows. */
  readonly sample?: readonly Record<string, unknown>[]
  /**
   * Each sampled row as it was before the change, aligned with `sample` (masked the same way);
   * `null` for a row the change creates. Absent when unknown: `sample` then shows values after the change.
   */
  readonly before?: readonly (Readonly<Record<string, unknown>> | null)[]
  /** `removed`: `sample` holds rows as they were before a DELETE removed them (default: after the change). */
  readonly sampleOf?: 'after' | 'removed'
  readonly [key: string]: unknown
}

export interface ApprovalRequest {
  readonly id: string
  /** sha256 of (resource, action, normalized command): an approval is valid for exactly this operation. */
  readonly fingerprint: string
  readonly session: string
  readonly principal: Principal
  readonly resource: ResourceRef
  readonly action: string
  /**
   * The command as the approver is shown it: passed through the decision's detector masks (a
   * secret typed into it is masked; `commandMasked` says so). The fingerprint binds the exact text.
   */
  readonly command: string
  /** True when `command` (or `facts`) had a secret masked out before it left the process. */
  readonly commandMasked?: boolean
  /**
   * Bound parameter values ($1, ?), each as text, masked by the decision's detector masks and cut
   * at 200 characters: what the approver is asked to let run.
   */
  readonly parameters?: readonly (string | null)[]
  /** sha256 of the exact values (part of the fingerprint), so an approval binds them too. */
  readonly parametersDigest?: string
  readonly facts: Readonly<Record<string, unknown>>
  readonly rule: string
  readonly reason: string
  /** Every reviewer id or group the rule names (any reviewer but the requester when empty). */
  readonly approvers: readonly string[]
  /**
   * The ways to approve, any one of which suffices: `minApprovals` distinct reviewers named in (or
   * members of a group in) its `approvers`. Default: one group of `approvers` needing one approval.
   */
  readonly groups?: readonly ApproverGroup[]
  readonly requestedAt: Date
  readonly expiresAt: Date
  readonly preview?: ApprovalPreview
}

export interface ApprovalOutcome {
  readonly status: 'approved' | 'rejected' | 'expired'
  readonly by?: string
  readonly reason?: string
  /** The fingerprint the approver decided on; core checks it equals the request's. */
  readonly fingerprint?: string
  /**
   * The id of the request decided on. Required for `approved`: core refuses an approval without it,
   * or for another request, so a saved answer cannot be replayed to release the operation again.
   */
  readonly id?: string
  /** Every approval that counted, when a store collected them (several for `minApprovals` > 1). */
  readonly approvals?: readonly { readonly by: string; readonly decidedAt: Date; readonly key?: string }[]
  /** Set when the store was told to accept unsigned decisions (development only); audited. */
  readonly unsigned?: 'development-only'
}

export interface Approver {
  request(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome>
  close?(): Promise<void>
}
