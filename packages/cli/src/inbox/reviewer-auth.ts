import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { ApprovalRequest } from '@warden/core'
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose'

/** Who is deciding. `verified` is true when the identity comes from a signed token, not a typed-in name. */
export interface Reviewer {
  readonly id: string
  readonly groups: readonly string[]
  readonly verified: boolean
}

/** How the inbox authenticates reviewers: every API call carries a header the page sets (never a cookie). */
export interface ReviewerAuth {
  readonly mode: 'secret' | 'jwt'
  /** Resolves the reviewer or rejects with an InboxAuthError. */
  authenticate(headers: IncomingHttpHeaders): Promise<Reviewer>
}

export class InboxAuthError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InboxAuthError'
  }
}

function bearer(headers: IncomingHttpHeaders): string {
  const value = headers.authorization
  if (typeof value !== 'string' || !value.startsWith('Bearer ') || value.length <= 7) {
    throw new InboxAuthError('sign in: send "Authorization: Bearer <token>"')
  }
  return value.slice(7).trim()
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest()
const REVIEWER_NAME = /^[\p{L}\p{N}._@+-]{1,64}$/u

/**
 * Everyone holding the shared secret may review; the reviewer names themself in the
 * `X-Warden-Reviewer` header (so the name is trusted, not proven: use `jwtReviewerAuth`
 * where reviewers must be told apart reliably). Only a digest of the secret is kept.
 */
export function sharedSecretAuth(secret: string): ReviewerAuth {
  if (typeof secret !== 'string' || secret.length < 12) {
    throw new TypeError('sharedSecretAuth: "secret" must be a string of at least 12 characters')
  }
  const expected = digest(secret)
  return {
    mode: 'secret',
    async authenticate(headers) {
      const presented = digest(bearer(headers))
      if (!timingSafeEqual(presented, expected)) throw new InboxAuthError('wrong shared secret')
      const name = headers['x-warden-reviewer']
      if (typeof name !== 'string' || !REVIEWER_NAME.test(name)) {
        throw new InboxAuthError('give your reviewer name (letters, digits, . _ @ + -; at most 64)')
      }
      return { id: name, groups: [], verified: false }
    },
  }
}

export interface JwtReviewerAuthOptions {
  /** The identity provider's JWKS URL, or a key resolver (e.g. jose's createLocalJWKSet). */
  readonly jwks: string | URL | JWTVerifyGetKey
  readonly issuer: string
  readonly audience: string
  /** Claim naming the reviewer (default `sub`). */
  readonly reviewerClaim?: string
  /** Claim listing the reviewer's groups, matched against a rule's `approvers` (default `groups`). */
  readonly groupsClaim?: string
}

/** Reviewers present an OIDC/JWT bearer token, verified against the issuer's JWKS with jose. */
export function jwtReviewerAuth(options: JwtReviewerAuthOptions): ReviewerAuth {
  if (!options.issuer) throw new TypeError('jwtReviewerAuth: "issuer" is required')
  if (!options.audience) throw new TypeError('jwtReviewerAuth: "audience" is required')
  const keys =
    typeof options.jwks === 'function' ? options.jwks : createRemoteJWKSet(new URL(String(options.jwks)))
  const reviewerClaim = options.reviewerClaim ?? 'sub'
  const groupsClaim = options.groupsClaim ?? 'groups'
  return {
    mode: 'jwt',
    async authenticate(headers) {
      const token = bearer(headers)
      let payload: Record<string, unknown>
      try {
        ;({ payload } = await jwtVerify(token, keys, { issuer: options.issuer, audience: options.audience }))
      } catch (error) {
        throw new InboxAuthError(
          `token rejected: ${(error as { code?: string }).code ?? (error as Error).message}`,
        )
      }
      const id = payload[reviewerClaim]
      if (typeof id !== 'string' || id === '')
        throw new InboxAuthError(`token has no "${reviewerClaim}" claim`)
      const groups = payload[groupsClaim]
      return {
        id,
        groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
        verified: true,
      }
    },
  }
}

/**
 * Why this reviewer may not make this decision, or undefined when they may. A requester never
 * approves their own request (they may reject, i.e. withdraw, it). With verified identities, a
 * rule's `approvers` (names or groups) are enforced; a shared secret cannot prove group
 * membership, so there every holder may decide.
 */
export function refusalReason(
  reviewer: Reviewer,
  request: ApprovalRequest,
  status: 'approved' | 'rejected',
): string | undefined {
  // Case-insensitive, like the store's own check.
  if (status === 'approved' && reviewer.id.toLowerCase() === request.principal.id.toLowerCase()) {
    return 'a requester cannot approve their own request'
  }
  if (reviewer.verified && request.approvers.length > 0) {
    const allowed = request.approvers.some((a) => a === reviewer.id || reviewer.groups.includes(a))
    if (!allowed) return `only ${request.approvers.join(', ')} may decide this request`
  }
  return undefined
}
