// One error base for every Warden package, with stable codes and a cross-install brand.
// Messages never hold parameter values or credentials.

const BRAND = Symbol.for('warden.error')

/** Every stable error code Warden throws. Add codes, never rename them. */
export type WardenErrorCode =
  // policy loading and evaluation
  | 'ERR_POLICY_YAML'
  | 'ERR_POLICY_SCHEMA'
  | 'ERR_POLICY_CEL_SYNTAX'
  | 'ERR_POLICY_CEL_TYPE'
  | 'ERR_POLICY_REGEX'
  | 'ERR_POLICY_GLOB'
  | 'ERR_POLICY_DURATION'
  | 'ERR_POLICY_DUPLICATE'
  | 'ERR_POLICY_IO'
  | 'ERR_POLICY_BUNDLE'
  | 'ERR_POLICY_SIGNATURE'
  | 'ERR_POLICY_TEST'
  // compilePolicy/loadPolicy called with arguments of the wrong type
  | 'ERR_POLICY_INPUT'
  // runtime decisions
  | 'ERR_WARDEN_DENIED'
  | 'ERR_WARDEN_APPROVAL_REJECTED'
  | 'ERR_WARDEN_APPROVAL_EXPIRED'
  | 'ERR_WARDEN_APPROVAL_MISMATCH'
  | 'ERR_WARDEN_APPROVAL_STORE'
  | 'ERR_WARDEN_NO_SESSION'
  | 'ERR_WARDEN_SESSION_CLOSED'
  | 'ERR_WARDEN_TOKEN_INVALID'
  | 'ERR_WARDEN_BROKER'
  | 'ERR_WARDEN_LEASE_EXPIRED'
  | 'ERR_WARDEN_AUDIT'
  // the command ran (it may have changed something) but its outcome could not be recorded; its result is withheld
  | 'ERR_WARDEN_RAN_UNRECORDED'
  | 'ERR_WARDEN_CONFIG'
  | 'ERR_WARDEN_MASKING'
  | 'ERR_WARDEN_DESCRIBE'
  | 'ERR_WARDEN_UNSUPPORTED'
  | 'ERR_WARDEN_PREVIEW_MISMATCH'
  // an approval decision the store refused (unknown id, already decided, expired, self-approval, fingerprint)
  | 'ERR_WARDEN_APPROVAL_DECISION'
  // an approval preview's dry run could not be rolled back (the connection is dropped)
  | 'ERR_WARDEN_PREVIEW_FAILED'
  // a decision in the approval store has no valid signature by a trusted approver key (forged or altered)
  | 'ERR_WARDEN_APPROVAL_SIGNATURE'
  // a decision was made by someone the rule does not allow (not an approver, the requester, too few approvals)
  | 'ERR_WARDEN_APPROVAL_APPROVER'

export class WardenError extends Error {
  /** Set by each subclass that owns exactly one code; `instanceof Subclass` then also checks it. */
  static readonly code: WardenErrorCode | undefined = undefined
  readonly code: WardenErrorCode

  constructor(code: WardenErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }

  get [BRAND](): true {
    return true
  }

  // Works across duplicate installs of the package (two copies of @warden/policy in one tree).
  // `this` is the class `instanceof` was asked about (a subclass checks its own code), so it stays.
  // biome-ignore-start lint/complexity/noThisInStatic: polymorphic on purpose
  static override [Symbol.hasInstance](value: unknown): boolean {
    if ((value as { [BRAND]?: unknown } | null)?.[BRAND] !== true) return false
    if (this === WardenError) return true
    const code = (this as typeof WardenError).code
    if (code !== undefined) return (value as WardenError).code === code
    return Function.prototype[Symbol.hasInstance].call(this, value)
  }
  // biome-ignore-end lint/complexity/noThisInStatic: polymorphic on purpose
}

/**
 * A Warden API was called with an argument or option of the wrong type or value: a `TypeError`
 * (as Node reports bad arguments) that also carries the stable code `ERR_WARDEN_CONFIG` and counts as
 * a `WardenError`, so one `catch (e) { if (e instanceof WardenError) … e.code … }` handles every
 * Warden failure. The message names the function and the option, and says what it must be.
 */
export class WardenTypeError extends TypeError {
  readonly code = 'ERR_WARDEN_CONFIG' as const

  get [BRAND](): true {
    return true
  }
}

/** A command was refused: by a rule, by the default, or because something could not be decided. */
export class WardenDeniedError extends WardenError {
  static override readonly code = 'ERR_WARDEN_DENIED' as const
  readonly rule: string
  readonly reason: string
  constructor(rule: string, reason: string, options?: ErrorOptions) {
    super('ERR_WARDEN_DENIED', `denied by ${rule}${reason ? `: ${reason}` : ''}`, options)
    this.rule = rule
    this.reason = reason
  }
}

/** The codes of a held command that did not get a valid approval. */
export type ApprovalErrorCode =
  | 'ERR_WARDEN_APPROVAL_REJECTED'
  | 'ERR_WARDEN_APPROVAL_EXPIRED'
  | 'ERR_WARDEN_APPROVAL_MISMATCH'
  | 'ERR_WARDEN_APPROVAL_SIGNATURE'
  | 'ERR_WARDEN_APPROVAL_APPROVER'

/**
 * A command held for approval that did not run: rejected, expired, or answered by a decision the
 * pipeline refused (another operation, a forged or unsigned decision, someone the rule does not
 * allow). Carries what the approval was for and who answered, so callers need not parse messages.
 */
export class WardenApprovalError extends WardenError {
  declare readonly code: ApprovalErrorCode
  /** The policy rule that held the command for approval. */
  readonly rule: string
  /** The approval request's id (as in the audit record's `approval.id`). */
  readonly approval: string
  /** Who decided, when a decision arrived (several approvers: comma-separated). */
  readonly by: string | undefined
  /** The approver's own reason, when given. */
  readonly approverReason: string | undefined
  constructor(
    code: ApprovalErrorCode,
    message: string,
    fields: {
      readonly rule: string
      readonly approval: string
      readonly by?: string
      readonly approverReason?: string
    },
    options?: ErrorOptions,
  ) {
    super(code, message, options)
    this.rule = fields.rule
    this.approval = fields.approval
    this.by = fields.by
    this.approverReason = fields.approverReason
  }
}

/** Where a policy error points: a file (or source name), a 1-based line and column, and a caret snippet. */
export interface PolicyErrorLocation {
  readonly file?: string
  readonly line?: number
  readonly column?: number
  /** The offending source line(s) with a caret under the column. */
  readonly snippet?: string
  /** Document path of the offending value, e.g. `rules[2].when`. */
  readonly path?: string
}

/**
 * A policy document, expression, duration, glob, bundle, signature or test file is malformed.
 * `code` says which; `file`, `line`, `column` and `snippet` say where (when known).
 * Exported from `@warden/policy`.
 */
export class PolicyError extends WardenError {
  readonly file: string | undefined
  readonly line: number | undefined
  readonly column: number | undefined
  readonly snippet: string | undefined
  readonly path: string | undefined
  /** The bare problem, without location (the message adds `file:line:column` and the snippet). */
  readonly detail: string
  /**
   * Every error found in the policy set, this one first, when loading found more than one
   * (compilePolicy/loadPolicy keep checking after the first). Not enumerable.
   */
  declare readonly errors?: readonly PolicyError[]

  constructor(
    code: WardenErrorCode,
    detail: string,
    location: PolicyErrorLocation = {},
    options?: ErrorOptions,
  ) {
    const where = location.file
      ? `${location.file}${location.line ? `:${location.line}${location.column ? `:${location.column}` : ''}` : ''}: `
      : ''
    const at = location.path ? ` (at ${location.path})` : ''
    super(code, `${where}${detail}${at}${location.snippet ? `\n${location.snippet}` : ''}`, options)
    this.file = location.file
    this.line = location.line
    this.column = location.column
    this.snippet = location.snippet
    this.path = location.path
    this.detail = detail
  }
}

/**
 * Every error a Warden package throws on purpose (narrow by `code`, or by class with `instanceof`).
 * Anything else reaching a caller is a bug to report.
 */
export type AnyWardenError =
  | WardenDeniedError
  | WardenApprovalError
  | PolicyError
  | WardenTypeError
  | WardenError
