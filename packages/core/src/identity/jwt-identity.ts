import { type Principal, type PrincipalType, WardenError } from '@warden/policy'
import {
  type CryptoKey,
  createLocalJWKSet,
  createRemoteJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  type KeyObject,
} from 'jose'
import { frozenClaims } from '../internal/frozen-claims.js'
import type { Identity } from './identity.js'

export interface JwtIdentityOptions {
  /** Expected `iss` (one or several). Required: a token from another issuer is refused. */
  readonly issuer: string | readonly string[]
  /** Expected `aud` (one or several). Required: a token for another audience is refused. */
  readonly audience: string | readonly string[]
  /** JWKS endpoint; keys are cached and refetched when a token names an unknown `kid` (key rotation). */
  readonly jwksUrl?: string | URL
  /** A local JWKS (e.g. from `testIdentity().jwks`). */
  readonly jwks?: JSONWebKeySet
  /** A single verification key. */
  readonly key?: CryptoKey | KeyObject | Uint8Array
  /** Allowed algorithms (default: what the key allows; `none` is never accepted). */
  readonly algorithms?: readonly string[]
  /** Clock skew tolerated on `exp`/`nbf`/`iat`, seconds (default 30). */
  readonly clockToleranceSec?: number
  /** Claim with the principal's groups: a string array or space/comma separated string (default `groups`). */
  readonly groupsClaim?: string
  /** Claim with the principal type (`service` `agent` `workload` `user`) (default `principal_type`). */
  readonly typeClaim?: string
  /** Type when the claim is absent (default `service`). */
  readonly defaultType?: PrincipalType
  /** Claim with the principal id (default `sub`). */
  readonly idClaim?: string
  /** JWKS cache lifetime, ms (default 10 minutes) and HTTP timeout, ms (default 5000). */
  readonly jwksCacheMaxAgeMs?: number
  readonly jwksTimeoutMs?: number
  /** Minimum time between two JWKS fetches triggered by unknown `kid`s, ms (default 30 000). */
  readonly jwksCooldownMs?: number
}

const TYPES: ReadonlySet<string> = new Set(['service', 'agent', 'workload', 'user'] satisfies PrincipalType[])

/**
 * Verifies JWTs (service-account, workload or agent tokens) with jose: signature, `iss`, `aud`,
 * `exp`/`nbf` with a small clock skew. Maps claims to a Principal.
 * @example
 * const identity = jwtIdentity({ jwksUrl: 'https://idp.example/.well-known/jwks.json', issuer: 'https://idp.example', audience: 'warden' })
 */
export function jwtIdentity(options: JwtIdentityOptions): Identity {
  const sources = [options.jwksUrl, options.jwks, options.key].filter((x) => x !== undefined).length
  if (sources !== 1)
    throw new WardenError('ERR_WARDEN_CONFIG', 'jwtIdentity: give exactly one of jwksUrl, jwks or key')
  if (!options.issuer || (Array.isArray(options.issuer) && options.issuer.length === 0)) {
    throw new WardenError('ERR_WARDEN_CONFIG', 'jwtIdentity: issuer is required')
  }
  if (!options.audience || (Array.isArray(options.audience) && options.audience.length === 0)) {
    throw new WardenError('ERR_WARDEN_CONFIG', 'jwtIdentity: audience is required')
  }
  const groupsClaim = options.groupsClaim ?? 'groups'
  const typeClaim = options.typeClaim ?? 'principal_type'
  const idClaim = options.idClaim ?? 'sub'
  const defaultType = options.defaultType ?? 'service'
  const verifyOptions = {
    issuer: options.issuer as string | string[],
    audience: options.audience as string | string[],
    clockTolerance: options.clockToleranceSec ?? 30,
    algorithms: options.algorithms ? [...options.algorithms] : undefined,
  }
  const key =
    options.jwksUrl !== undefined
      ? createRemoteJWKSet(new URL(options.jwksUrl), {
          cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
          timeoutDuration: options.jwksTimeoutMs ?? 5000,
          cooldownDuration: options.jwksCooldownMs ?? 30_000,
        })
      : options.jwks !== undefined
        ? createLocalJWKSet(options.jwks)
        : options.key

  const principalOf = (payload: JWTPayload, issuer: string): Principal => {
    const id = payload[idClaim]
    if (typeof id !== 'string' || id === '') throw invalid(`the token has no "${idClaim}" claim`)
    const rawType = payload[typeClaim] ?? defaultType
    if (typeof rawType !== 'string' || !TYPES.has(rawType)) {
      throw invalid(`claim "${typeClaim}" must be one of service, agent, workload, user`)
    }
    const rawGroups = payload[groupsClaim]
    const groups =
      rawGroups === undefined
        ? []
        : typeof rawGroups === 'string'
          ? rawGroups.split(/[\s,]+/).filter(Boolean)
          : Array.isArray(rawGroups) && rawGroups.every((g) => typeof g === 'string')
            ? [...rawGroups]
            : null
    if (groups === null) throw invalid(`claim "${groupsClaim}" must be a list of strings`)
    return Object.freeze({
      id,
      type: rawType as PrincipalType,
      groups: Object.freeze(groups),
      claims: frozenClaims(payload),
      issuer,
    })
  }

  return {
    async verify(token: string): Promise<Principal> {
      if (typeof token !== 'string' || token === '') throw invalid('no token given')
      let result: Awaited<ReturnType<typeof jwtVerify>>
      try {
        // jose accepts a key or a key-resolving function; the union is narrowed by the branches above.
        result = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1] & CryptoKey, verifyOptions)
      } catch (err) {
        throw invalid(describe(err), err)
      }
      return principalOf(result.payload, result.payload.iss ?? '')
    },
  }
}

function invalid(reason: string, cause?: unknown): WardenError {
  return new WardenError(
    'ERR_WARDEN_TOKEN_INVALID',
    `token refused: ${reason}`,
    cause === undefined ? undefined : { cause },
  )
}

// jose's messages name the failed check and never include the token; keep them, add a hint.
function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return `expired (${err.message}); get a fresh token`
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return `claim "${err.claim}" rejected (${err.reason}): ${err.message}`
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed'
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return 'no key in the JWKS matches the token (unknown kid or algorithm)'
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return `algorithm not allowed: ${err.message}`
  if (err instanceof joseErrors.JWKSTimeout) return 'the JWKS endpoint timed out'
  if (err instanceof joseErrors.JOSEError) return `${err.code}: ${err.message}`
  return err instanceof Error ? err.message : String(err)
}
