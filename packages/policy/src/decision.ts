import type { Request } from './request.js'

export type Effect = 'allow' | 'deny' | 'approve'

export type MaskStrategyName = 'redact' | 'partial' | 'hash' | 'tokenize' | 'null'

export type DetectorName =
  | 'email'
  | 'credit_card'
  | 'iban'
  | 'us_ssn'
  | 'phone'
  | 'ipv4'
  | 'ipv6'
  | 'jwt'
  | 'aws_access_key'
  | 'private_key'
  | 'api_key'

/** Every built-in detector, in documentation order (the policy schema accepts exactly these). */
export const DETECTOR_NAMES = [
  'email',
  'credit_card',
  'iban',
  'us_ssn',
  'phone',
  'ipv4',
  'ipv6',
  'jwt',
  'aws_access_key',
  'private_key',
  'api_key',
] as const satisfies readonly DetectorName[]

/** A mask rule that applies to this request, as carried by a decision. */
export interface MaskRule {
  readonly name: string
  /** Column-name or `table.column` globs (also JSON paths for HTTP bodies). */
  readonly columns: readonly string[]
  readonly detectors: readonly DetectorName[]
  readonly strategy: MaskStrategyName
  /** Flow tags this mask adds when it masks something (e.g. `pii`). */
  readonly tags: readonly string[]
}

/** One way to approve: `minApprovals` distinct reviewers, each named in `approvers` or in one of its groups. */
export interface ApproverGroup {
  /** Reviewer ids or group names; empty means any reviewer but the requester. */
  readonly approvers: readonly string[]
  readonly minApprovals: number
}

export interface ApprovalRequirement {
  /** Every reviewer or group named by any of `groups` (what to show a reviewer). */
  readonly approvers: readonly string[]
  /** The ways to approve; any one of them suffices (OR). At least one. */
  readonly groups: readonly ApproverGroup[]
  /** Milliseconds. */
  readonly timeout: number
}

export interface MatchedRule {
  readonly rule: string
  readonly effect: Effect
  /** Shadow rules report what they would have done without changing the effect. */
  readonly shadow: boolean
  /** Set when the rule's `when` threw at evaluation time (the rule then counts as matched if it could deny). */
  readonly error?: string
}

export interface Decision {
  readonly effect: Effect
  /** The deciding rule, or `default`, or `error:<rule>` when a runtime error forced a deny. */
  readonly rule: string
  readonly reason: string
  readonly approval: ApprovalRequirement | null
  readonly masks: readonly MaskRule[]
  readonly matched: readonly MatchedRule[]
  /** `sha256:<hex>` content hash of the policy set in force. */
  readonly revision: string
  /**
   * Flow tags of the enforcing rules that matched (their `tags`, e.g. `pii` for a rule matching
   * reads of a sensitive table), deduplicated. Core adds them to `flow.tags` when the command runs.
   * Mask tags are reported by the masker when it actually masks something.
   */
  readonly tags?: readonly string[]
}

/** Anything that decides: a compiled policy, a hot-reloading bundle loader, a test double. */
export interface Decider {
  decide(request: Request | import('./request.js').RequestInput): Decision
  readonly revision: string
}
