import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type CryptoKey, exportJWK, generateKeyPair, type JSONWebKeySet, type JWK, SignJWT } from 'jose'
import type { Identity } from '../identity/identity.js'
import { jwtIdentity } from '../identity/jwt-identity.js'
import { newId } from '../internal/ids.js'

export interface TestTokenClaims {
  /** Principal id (`sub`). */
  readonly sub: string
  readonly groups?: readonly string[]
  readonly type?: 'service' | 'agent' | 'workload' | 'user'
  /** Lifetime in seconds from now (default 300); negative makes an expired token. */
  readonly expiresIn?: number
  /** Seconds from now before which the token is not valid. */
  readonly notBefore?: number
  readonly issuer?: string
  readonly audience?: string | readonly string[]
  /** Sign with a key that is not in the JWKS (a forged token). */
  readonly forged?: boolean
  readonly claims?: Readonly<Record<string, unknown>>
}

export interface TestIdentity {
  readonly issuer: string
  readonly audience: string
  /** The public JWKS (current key and, after rotate(), the previous ones). */
  readonly jwks: JSONWebKeySet
  /** Verifies against the local JWKS (sees rotations). */
  readonly identity: Identity
  /** A signed token for these claims. */
  token(claims: TestTokenClaims): Promise<string>
  /** Adds a new signing key; `drop` removes the older keys from the JWKS. */
  rotate(options?: { readonly drop?: boolean }): Promise<void>
  /** Serves the JWKS over HTTP on 127.0.0.1 (for jwtIdentity({jwksUrl})); counts fetches. */
  serve(): Promise<{ readonly url: string; readonly fetches: () => number; close(): Promise<void> }>
}

interface Key {
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly jwk: JWK
}

async function makeKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const kid = newId()
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } }
}

/**
 * A local identity provider for tests: an ES256 key, a JWKS, and a token minter.
 * @example
 * const idp = await testIdentity()
 * const warden = createWarden({ policy, audit: memorySink(), identity: idp.identity })
 * const session = await warden.session({ token: await idp.token({ sub: 'ci-job', groups: ['deployers'] }) })
 */
export async function testIdentity(
  options: { readonly issuer?: string; readonly audience?: string } = {},
): Promise<TestIdentity> {
  const issuer = options.issuer ?? 'https://idp.test'
  const audience = options.audience ?? 'warden'
  let keys: Key[] = [await makeKey()]
  const foreign = await makeKey()
  const jwks: { keys: JWK[] } = { keys: keys.map((k) => k.jwk) }
  let verifier = jwtIdentity({ jwks: structuredClone(jwks), issuer, audience, clockToleranceSec: 5 })
  const refresh = () => {
    jwks.keys = keys.map((k) => k.jwk)
    verifier = jwtIdentity({ jwks: structuredClone(jwks), issuer, audience, clockToleranceSec: 5 })
  }
  return {
    issuer,
    audience,
    jwks,
    identity: { verify: (token) => verifier.verify(token) },
    async token(claims) {
      const key = claims.forged ? foreign : keys[keys.length - 1]
      const now = Math.floor(Date.now() / 1000)
      const jwt = new SignJWT({
        ...claims.claims,
        ...(claims.groups ? { groups: [...claims.groups] } : {}),
        ...(claims.type ? { principal_type: claims.type } : {}),
      })
        .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
        .setSubject(claims.sub)
        .setIssuer(claims.issuer ?? issuer)
        .setAudience((claims.audience as string | string[] | undefined) ?? audience)
        .setIssuedAt(now)
        .setExpirationTime(now + (claims.expiresIn ?? 300))
      if (claims.notBefore !== undefined) jwt.setNotBefore(now + claims.notBefore)
      return jwt.sign(key.privateKey)
    },
    async rotate({ drop = false } = {}) {
      const next = await makeKey()
      keys = drop ? [next] : [...keys, next]
      refresh()
    },
    async serve() {
      let fetches = 0
      const server = createServer((_req, res) => {
        fetches++
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(jwks))
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const { port } = server.address() as AddressInfo
      return {
        url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        fetches: () => fetches,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      }
    },
  }
}
