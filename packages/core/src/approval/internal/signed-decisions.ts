// Signed approval decisions. Whoever decides (the inbox, an approver service) signs
// {request id, fingerprint, status, reviewer, reviewer's groups, decidedAt} with an Ed25519 key;
// the waiting process holds only the public keys it trusts and checks each decision against the
// request it computed itself, so anyone who can merely write to the store cannot release a command.
import { type KeyObject, sign, verify } from 'node:crypto'
import { WardenError, WardenTypeError } from '@warden/policy'
import {
  checkpointKeyId,
  checkpointPrivateKey,
  checkpointPublicKey,
  type KeyInput,
} from '../../audit/checkpoint.js'
import type { ApprovalOutcome, ApprovalRequest } from '../approver.js'
import { requestDigest } from './approval-store.js'
import { approverGroups, eligibleGroups, foldName, sameName } from './approver-rules.js'

/** What a decision says; signed as the exact JSON text stored. */
export interface DecisionClaims {
  readonly v: 1
  readonly id: string
  readonly fingerprint: string
  readonly status: 'approved' | 'rejected'
  readonly by: string
  /** The reviewer's groups, as the approver service authenticated them. */
  readonly groups: readonly string[]
  /** Milliseconds since the epoch, by the signer's clock. */
  readonly decidedAt: number
  readonly reason?: string
  /**
   * `requestDigest` of the request the decider held (what the reviewer was shown). An approval
   * without it, or with another, is refused: the shown bound values or preview differ from the run's.
   */
  readonly request?: string
}

/** How a store signs and checks decisions. */
export interface DecisionKeys {
  /**
   * Ed25519 private key (PKCS8 PEM or KeyObject) of the approver service that decides through this
   * store (the inbox). `warden audit keygen --out inbox` makes a pair. Needed by `decide()`.
   */
  readonly signingKey?: KeyInput
  /**
   * Ed25519 public keys of the approver services whose decisions a waiting command accepts. Needed
   * to wait: a decision without a valid signature by one of them is refused (and audited).
   */
  readonly trustedKeys?: readonly KeyInput[]
  /**
   * `'development-only'`: store and accept decisions without signatures, so anyone who can write to
   * the store can approve. Every approval then says `unsigned` in the audit record.
   */
  readonly unsigned?: 'development-only'
}

const DOMAIN = 'warden.approval-decision.v1\n'
/** Clock skew tolerated between the signer and the waiting process when checking expiry. */
const SKEW_MS = 60_000

export class DecisionSigner {
  readonly #private: KeyObject | undefined
  readonly #kid: string | undefined
  readonly #trusted = new Map<string, KeyObject>()
  readonly unsigned: boolean

  constructor(where: string, keys: DecisionKeys) {
    this.unsigned = keys.unsigned !== undefined
    if (keys.unsigned !== undefined && keys.unsigned !== 'development-only')
      throw new WardenTypeError(`${where}: "unsigned" can only be 'development-only'`)
    if (this.unsigned && (keys.signingKey !== undefined || keys.trustedKeys !== undefined))
      throw new WardenTypeError(`${where}: give keys or unsigned: 'development-only', not both`)
    if (!this.unsigned && keys.signingKey === undefined && keys.trustedKeys === undefined)
      throw new WardenTypeError(
        `${where}: decisions must be signed: give trustedKeys (the approver service's public keys) where commands wait, signingKey where decisions are made, or unsigned: 'development-only'`,
      )
    if (keys.signingKey !== undefined) {
      this.#private = checkpointPrivateKey(keys.signingKey)
      this.#kid = checkpointKeyId(this.#private)
    }
    if (keys.trustedKeys !== undefined) {
      if (!Array.isArray(keys.trustedKeys) || keys.trustedKeys.length === 0)
        throw new WardenTypeError(`${where}: "trustedKeys" must be a non-empty list of public keys`)
      for (const k of keys.trustedKeys) {
        const pub = checkpointPublicKey(k)
        this.#trusted.set(checkpointKeyId(pub), pub)
      }
    }
  }

  /** Throws ERR_WARDEN_CONFIG when this store cannot make decisions. */
  assertCanSign(where: string): void {
    if (!this.unsigned && this.#private === undefined)
      throw new WardenError(
        'ERR_WARDEN_CONFIG',
        `${where}: this store has no signingKey, so it cannot decide (decisions must be signed by the approver service)`,
      )
  }

  /** Throws ERR_WARDEN_CONFIG when a command could not check the decisions it waits for. */
  assertCanVerify(where: string): void {
    if (!this.unsigned && this.#trusted.size === 0)
      throw new WardenError(
        'ERR_WARDEN_CONFIG',
        `${where}: this store has no trustedKeys, so a waiting command could not check a decision: give the approver service's public key`,
      )
  }

  /** The stored form: `{claims, kid, sig}` as JSON, the signature over the claims text itself. */
  seal(claims: DecisionClaims): string {
    const text = JSON.stringify(claims)
    if (this.unsigned) return JSON.stringify({ claims: text })
    const key = this.#private
    if (key === undefined) throw new WardenError('ERR_WARDEN_CONFIG', 'approval store: no signingKey')
    const sig = sign(null, Buffer.from(DOMAIN + text), key).toString('base64url')
    return JSON.stringify({ claims: text, kid: this.#kid, sig })
  }

  /** The claims of a stored decision whose signature is valid; throws ERR_WARDEN_APPROVAL_SIGNATURE otherwise. */
  open(stored: string): { claims: DecisionClaims; key?: string } {
    let blob: { claims?: unknown; kid?: unknown; sig?: unknown }
    try {
      blob = JSON.parse(stored) as typeof blob
    } catch {
      throw forged('is not a decision')
    }
    if (typeof blob?.claims !== 'string') throw forged('is not a decision')
    let key: string | undefined
    if (!this.unsigned) {
      const pub = typeof blob.kid === 'string' ? this.#trusted.get(blob.kid) : undefined
      if (pub === undefined) throw forged('is not signed by a trusted approver key')
      const sig = typeof blob.sig === 'string' ? Buffer.from(blob.sig, 'base64url') : undefined
      // One spelling of the signature bytes only (Node decodes base64 leniently).
      let valid = false
      try {
        valid =
          sig !== undefined &&
          sig.toString('base64url') === blob.sig &&
          verify(null, Buffer.from(DOMAIN + blob.claims), pub, sig)
      } catch {
        valid = false
      }
      if (!valid) throw forged('has a signature that does not verify (altered or forged)')
      key = blob.kid as string
    }
    let claims: DecisionClaims
    try {
      claims = JSON.parse(blob.claims) as DecisionClaims
    } catch {
      throw forged('has claims that are not JSON')
    }
    if (
      claims?.v !== 1 ||
      typeof claims.id !== 'string' ||
      typeof claims.fingerprint !== 'string' ||
      (claims.status !== 'approved' && claims.status !== 'rejected') ||
      typeof claims.by !== 'string' ||
      claims.by.trim() === '' ||
      !Array.isArray(claims.groups) ||
      claims.groups.some((g) => typeof g !== 'string') ||
      typeof claims.decidedAt !== 'number' ||
      (claims.reason !== undefined && typeof claims.reason !== 'string') ||
      (claims.request !== undefined && typeof claims.request !== 'string')
    )
      throw forged('has malformed claims')
    return key === undefined ? { claims } : { claims, key }
  }
}

function forged(what: string): WardenError {
  return new WardenError(
    'ERR_WARDEN_APPROVAL_SIGNATURE',
    `a decision in the approval store ${what}; the command does not run. Someone may have written to the store directly`,
  )
}

function mismatch(message: string): WardenError {
  return new WardenError('ERR_WARDEN_APPROVAL_MISMATCH', message)
}

function notAllowed(message: string): WardenError {
  return new WardenError('ERR_WARDEN_APPROVAL_APPROVER', message)
}

/**
 * The outcome the waiting process accepts, from the decisions a store handed over (already taken
 * out of the store). Every decision is checked against the request this process computed: its id
 * (no replay from another request), its fingerprint (no other operation), its reviewer (an approver
 * of the rule, not the requester, each counted once), and together they must meet one approver
 * group's `minApprovals`. Anything else throws: the command does not run.
 */
export function settleDecisions(
  request: ApprovalRequest,
  opened: readonly { claims: DecisionClaims; key?: string }[],
  unsigned: boolean,
): ApprovalOutcome {
  if (opened.length === 0) throw forged('marks the request decided without any decision')
  const groups = approverGroups(request)
  const counts = groups.map(() => 0)
  const seen = new Set<string>()
  const approvals: { by: string; decidedAt: Date; key?: string }[] = []
  let rejection: DecisionClaims | undefined
  let shown: string | undefined
  for (const { claims, key } of opened) {
    if (claims.id !== request.id)
      throw mismatch(
        'a decision in the approval store was made for another request (replayed); ask for a new approval',
      )
    if (claims.fingerprint !== request.fingerprint)
      throw mismatch(
        'a decision in the approval store is for a different operation (fingerprint); ask for a new approval',
      )
    if (claims.decidedAt > request.expiresAt.getTime() + SKEW_MS)
      throw mismatch('a decision in the approval store was made after the request expired')
    const who = foldName(claims.by)
    if (seen.has(who))
      throw notAllowed(`${claims.by} decided this request more than once; each reviewer counts once`)
    seen.add(who)
    const requester = sameName(claims.by, request.principal.id)
    if (claims.status === 'rejected') {
      if (!requester && eligibleGroups(request, claims.by, claims.groups).length === 0)
        throw notAllowed(`${claims.by} is not an approver of rule ${request.rule}`)
      rejection ??= claims
      continue
    }
    if (requester) throw notAllowed('the requester approved their own request')
    const mine = eligibleGroups(request, claims.by, claims.groups)
    if (mine.length === 0) throw notAllowed(`${claims.by} is not an approver of rule ${request.rule}`)
    // The reviewer saw the whole request (bound values, preview), not just what the fingerprint covers.
    shown ??= requestDigest(request)
    if (claims.request !== shown)
      throw mismatch(
        'a decision in the approval store was made on a request shown differently (its bound values, preview or other details were altered in the store); ask for a new approval',
      )
    for (const i of mine) counts[i]++
    approvals.push({ by: claims.by, decidedAt: new Date(claims.decidedAt), ...(key ? { key } : {}) })
  }
  const base = {
    fingerprint: request.fingerprint,
    id: request.id,
    ...(unsigned ? { unsigned: 'development-only' as const } : {}),
  }
  if (rejection !== undefined)
    return {
      status: 'rejected',
      by: rejection.by,
      ...(rejection.reason ? { reason: rejection.reason } : {}),
      ...base,
    }
  if (!groups.some((g, i) => counts[i] >= g.minApprovals))
    throw notAllowed(
      `the approvals in the store (${approvals.length}) do not meet rule ${request.rule}'s requirement; the command does not run`,
    )
  const last = opened[opened.length - 1].claims
  return {
    status: 'approved',
    by: approvals.map((a) => a.by).join(', '),
    ...(last.reason ? { reason: last.reason } : {}),
    approvals,
    ...base,
  }
}
