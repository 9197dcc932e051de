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
  | 'ERR_WARDEN_CONFIG'
  | 'ERR_WARDEN_MASKING'
  | 'ERR_WARDEN_DESCRIBE'
  | 'ERR_WARDEN_UNSUPPORTED'
  | 'ERR_WARDEN_PREVIEW_MISMATCH'

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
  static override [Symbol.hasInstance](value: unknown): boolean {
    if ((value as { [BRAND]?: unknown } | null)?.[BRAND] !== true) return false
    if (this === WardenError) return true
    const code = (this as typeof WardenError).code
    if (code !== undefined) return (value as WardenError).code === code
    return Function.prototype[Symbol.hasInstance].call(this, value)
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
