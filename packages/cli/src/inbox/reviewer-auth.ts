import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { type ApprovalRequest, approverRefusal, describeApprovers } from '@warden/core'
import { WardenTypeError } from '@warden/policy'
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose'

/** Who is deciding. `verified` is true when the identity comes from a signed token, not a typed-in name. */
export interface Reviewer {
  readonly id: string
  readonly groups: readonly string[]
  readonly verified: boolean
}

/** How the inbox authenticates reviewers: every API call carries a header the page sets (never a cookie). */
export interface ReviewerAuth {
  /** `secret`: one shared secret, reviewers name themselves; `tokens`: a token per reviewer; `jwt`: signed tokens. */
  readonly mode: 'secret' | 'tokens' | 'jwt'
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
    throw new WardenTypeError('sharedSecretAuth: "secret" must be a string of at least 12 characters')
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

/** One reviewer of `reviewerTokensAuth`: who, their groups, and the SHA-256 of their token (never the token). */
export interface ReviewerTokenEntry {
  readonly id: string
  /** Hex SHA-256 of the reviewer's token (`warden approvals reviewer-token <id>` makes both). */
  readonly tokenSha256: string
  /** Groups matched against a rule's `approvers`. */
  readonly groups?: readonly string[]
}

const SHA256_HEX = /^[0-9a-f]{64}$/
/** Tokens that `warden approvals reviewer-token` makes are 32 random bytes; refuse hashes of nothing. */
const EMPTY_SHA256 = digest('').toString('hex')

/**
 * A token per reviewer: the token proves who the reviewer is (as a JWT would), so a requester cannot
 * approve their own request by typing another name, and a rule's `approvers` are enforced by the
 * groups listed here. Only the tokens' SHA-256 digests are configured and kept.
 */
export function reviewerTokensAuth(entries: readonly ReviewerTokenEntry[]): ReviewerAuth {
  if (!Array.isArray(entries) || entries.length === 0)
    throw new WardenTypeError('reviewerTokensAuth: give at least one reviewer')
  const ids = new Set<string>()
  const reviewers = entries.map((entry, i) => {
    const where = `reviewer #${i + 1}`
    if (typeof entry?.id !== 'string' || !REVIEWER_NAME.test(entry.id))
      throw new WardenTypeError(
        `reviewerTokensAuth: ${where}: "id" must be 1-64 letters, digits or . _ @ + -`,
      )
    if (ids.has(entry.id.toLowerCase()))
      throw new WardenTypeError(`reviewerTokensAuth: ${where}: "${entry.id}" is listed twice`)
    ids.add(entry.id.toLowerCase())
    const hash = typeof entry.tokenSha256 === 'string' ? entry.tokenSha256.toLowerCase() : ''
    if (!SHA256_HEX.test(hash) || hash === EMPTY_SHA256)
      throw new WardenTypeError(
        `reviewerTokensAuth: ${where} (${entry.id}): "tokenSha256" must be the 64-hex-digit SHA-256 of a token`,
      )
    const groups = entry.groups ?? []
    if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string' || g === ''))
      throw new WardenTypeError(
        `reviewerTokensAuth: ${where} (${entry.id}): "groups" must be a list of names`,
      )
    return {
      id: entry.id,
      groups: Object.freeze([...groups]),
      hash: Buffer.from(hash, 'hex'),
    }
  })
  if (new Set(reviewers.map((r) => r.hash.toString('hex'))).size !== reviewers.length)
    throw new WardenTypeError('reviewerTokensAuth: two reviewers have the same token')
  return {
    mode: 'tokens',
    async authenticate(headers) {
      const presented = digest(bearer(headers))
      // Compare with every entry (no early exit): the time taken does not tell which one matched.
      let found: (typeof reviewers)[number] | undefined
      for (const r of reviewers) if (timingSafeEqual(presented, r.hash)) found ??= r
      if (found === undefined) throw new InboxAuthError('unknown reviewer token')
      return { id: found.id, groups: found.groups, verified: true }
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
  if (!options.issuer) throw new WardenTypeError('jwtReviewerAuth: "issuer" is required')
  if (!options.audience) throw new WardenTypeError('jwtReviewerAuth: "audience" is required')
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
 * Why this reviewer may not make this decision, or undefined when they may: the same rule the
 * store and the waiting command apply (core's `approverRefusal`: the rule's approver groups, the
 * requester never approving, Unicode case folding). A shared secret proves no group membership,
 * so there a reviewer counts only where the rule names them.
 */
export function refusalReason(
  reviewer: Reviewer,
  request: ApprovalRequest,
  status: 'approved' | 'rejected',
): string | undefined {
  const refusal = approverRefusal(request, status, reviewer.id, reviewer.groups)
  if (refusal === 'self-approval') return 'a requester cannot approve their own request'
  if (refusal === 'not-approver') return `only ${describeApprovers(request)} may decide this request`
  return undefined
}
