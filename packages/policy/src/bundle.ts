// Signed policy bundles: the policy files plus a manifest of their SHA-256 digests, the manifest
// signed as a compact JWS (EdDSA / Ed25519, jose). Verified against several trusted keys (rotation).
import { createHash, createPrivateKey, createPublicKey, type KeyObject, type webcrypto } from 'node:crypto'
import { CompactSign, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose'
import { z } from 'zod'
import { type CompilePolicyOptions, compilePolicy, type PolicySource } from './compile-policy.js'
import { PolicyError } from './errors.js'
import type { Policy } from './policy.js'

/** A trusted public key: PEM (SPKI), a Node `KeyObject`, a `CryptoKey`, or an OKP/Ed25519 JWK (its `kid` is honoured). */
export type TrustedKey = string | KeyObject | CryptoKey | JWK

/** The signing key for `createBundle`: PEM (PKCS#8), `KeyObject`, `CryptoKey` or a private JWK. */
export type SigningKey = string | KeyObject | CryptoKey | JWK

export interface CreateBundleOptions {
  /** Ed25519 private key. */
  key: SigningKey
  /** Key id placed in the JWS header, so verifiers pick the right trusted key. */
  kid?: string
  /** Creation time written into the manifest (test seam). */
  now?: Date
}

export interface BundleManifest {
  readonly typ: 'warden-policy-bundle'
  readonly v: 1
  readonly createdAt: string
  readonly files: readonly { readonly name: string; readonly sha256: string }[]
}

type CryptoKey = webcrypto.CryptoKey

const JWS_TYP = 'warden-bundle+jws'
const FILE_NAME = /^[A-Za-z0-9_.-][A-Za-z0-9_./-]*\.(ya?ml|json)$/

const bundleSchema = z.strictObject({
  manifest: z.string().min(1),
  files: z.record(z.string(), z.string()),
})
const manifestSchema = z.strictObject({
  typ: z.literal('warden-policy-bundle'),
  v: z.literal(1),
  createdAt: z.string(),
  files: z
    .array(z.strictObject({ name: z.string().regex(FILE_NAME), sha256: z.string().regex(/^[0-9a-f]{64}$/) }))
    .min(1),
})

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/**
 * Builds a signed bundle (JSON text) from policy files `{name: content}`, in the order given.
 * Exported from `@warden/policy`. Throws `ERR_POLICY_BUNDLE` for bad names, `ERR_POLICY_SIGNATURE` for a bad key.
 * @example const text = await createBundle({ 'orders.yaml': yaml }, { key: privateKeyPem, kid: '2026-01' })
 */
export async function createBundle(
  files: Readonly<Record<string, string>>,
  options: CreateBundleOptions,
): Promise<string> {
  const names = Object.keys(files)
  if (names.length === 0)
    throw new PolicyError('ERR_POLICY_BUNDLE', 'a bundle needs at least one policy file')
  for (const name of names) {
    if (!FILE_NAME.test(name) || name.split('/').includes('..')) {
      throw new PolicyError(
        'ERR_POLICY_BUNDLE',
        `bundle file name "${name}" must be a relative .yaml/.yml/.json path`,
      )
    }
    if (typeof files[name] !== 'string')
      throw new PolicyError('ERR_POLICY_BUNDLE', `bundle file "${name}" must be text`)
  }
  const manifest: BundleManifest = {
    typ: 'warden-policy-bundle',
    v: 1,
    createdAt: (options.now ?? new Date()).toISOString(),
    files: names.map((name) => ({ name, sha256: sha256(files[name]) })),
  }
  const key = await toPrivateKey(options.key)
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(manifest)))
    .setProtectedHeader({ alg: 'EdDSA', typ: JWS_TYP, ...(options.kid ? { kid: options.kid } : {}) })
    .sign(key)
    .catch((e: unknown) => {
      throw new PolicyError(
        'ERR_POLICY_SIGNATURE',
        `cannot sign the bundle: ${(e as Error).message}`,
        {},
        { cause: e },
      )
    })
  return `${JSON.stringify({ manifest: jws, files }, null, 2)}\n`
}

export interface VerifiedBundle {
  readonly manifest: BundleManifest
  readonly sources: readonly PolicySource[]
  /** `kid` of the key that verified the manifest (if the header named one). */
  readonly kid: string | undefined
}

interface NormalizedKey {
  readonly kid: string | undefined
  readonly key: KeyObject | CryptoKey
}

/** Imports trusted keys once (use with `verifyBundle`); throws `ERR_POLICY_SIGNATURE` for a key that is not Ed25519. */
export async function importTrustedKeys(keys: readonly TrustedKey[]): Promise<readonly NormalizedKey[]> {
  if (!Array.isArray(keys) || keys.length === 0)
    throw new PolicyError('ERR_POLICY_SIGNATURE', 'no trusted keys given for the bundle')
  return Promise.all(
    keys.map(async (k, i) => {
      try {
        if (typeof k === 'string') {
          // createPublicKey would quietly derive a public key from a private PEM; a private key in
          // the verifier's configuration is a leak, so refuse it.
          if (k.includes('PRIVATE KEY'))
            throw new Error('a trusted key must be public (got a private key PEM)')
          return { kid: undefined, key: checkEd25519(createPublicKey(k), i) }
        }
        if (isJwk(k)) {
          if (k.d !== undefined) throw new Error('a trusted key must be public (it has "d")')
          const imported = await importJWK(k, 'EdDSA')
          return { kid: k.kid, key: imported as CryptoKey }
        }
        if ('asymmetricKeyType' in k) return { kid: undefined, key: checkEd25519(k as KeyObject, i) }
        if ((k as CryptoKey).type !== 'public') throw new Error('a trusted key must be public')
        return { kid: undefined, key: k as CryptoKey }
      } catch (e) {
        if (e instanceof PolicyError) throw e
        throw new PolicyError(
          'ERR_POLICY_SIGNATURE',
          `trusted key #${i + 1} is not an Ed25519 public key: ${(e as Error).message}`,
          {},
          { cause: e },
        )
      }
    }),
  )
}

function checkEd25519(k: KeyObject, i: number): KeyObject {
  if (k.type !== 'public' || k.asymmetricKeyType !== 'ed25519') {
    throw new PolicyError(
      'ERR_POLICY_SIGNATURE',
      `trusted key #${i + 1} must be an Ed25519 public key (got ${k.type} ${k.asymmetricKeyType})`,
    )
  }
  return k
}

const isJwk = (k: unknown): k is JWK =>
  typeof k === 'object' && k !== null && 'kty' in k && typeof (k as { kty: unknown }).kty === 'string'

async function toPrivateKey(k: SigningKey): Promise<KeyObject | CryptoKey> {
  try {
    if (typeof k === 'string') return createPrivateKey(k)
    if (isJwk(k)) return (await importJWK(k, 'EdDSA')) as CryptoKey
    return k as KeyObject | CryptoKey
  } catch (e) {
    throw new PolicyError(
      'ERR_POLICY_SIGNATURE',
      `the signing key is not an Ed25519 private key: ${(e as Error).message}`,
      {},
      { cause: e },
    )
  }
}

/**
 * Verifies a bundle (its JSON text): signature by one of `trustedKeys`, then every file against
 * the manifest (no missing, extra or altered file). Exported from `@warden/policy`.
 * Throws `ERR_POLICY_BUNDLE` (malformed, digest mismatch) or `ERR_POLICY_SIGNATURE`.
 */
export async function verifyBundle(
  text: string,
  trustedKeys: readonly TrustedKey[] | readonly NormalizedKey[],
  options: { source?: string } = {},
): Promise<VerifiedBundle> {
  const file = options.source ?? '<bundle>'
  const keys = isNormalized(trustedKeys) ? trustedKeys : await importTrustedKeys(trustedKeys as TrustedKey[])
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new PolicyError('ERR_POLICY_BUNDLE', 'the bundle is not valid JSON', { file }, { cause: e })
  }
  const shape = bundleSchema.safeParse(raw)
  if (!shape.success) {
    throw new PolicyError(
      'ERR_POLICY_BUNDLE',
      `the bundle must be {manifest, files}: ${shape.error.issues[0].message}`,
      { file },
    )
  }
  let header: { alg?: string; typ?: string; kid?: string }
  try {
    header = decodeProtectedHeader(shape.data.manifest)
  } catch (e) {
    throw new PolicyError(
      'ERR_POLICY_SIGNATURE',
      'the bundle manifest is not a compact JWS',
      { file },
      { cause: e },
    )
  }
  if (header.alg !== 'EdDSA' || header.typ !== JWS_TYP) {
    throw new PolicyError(
      'ERR_POLICY_SIGNATURE',
      `the manifest must be signed with alg EdDSA, typ ${JWS_TYP}`,
      { file },
    )
  }
  const candidates = keys.filter(
    (k) => header.kid === undefined || k.kid === undefined || k.kid === header.kid,
  )
  let payload: Uint8Array | undefined
  for (const k of candidates) {
    try {
      payload = (await compactVerify(shape.data.manifest, k.key, { algorithms: ['EdDSA'] })).payload
      break
    } catch {
      // try the next trusted key (rotation)
    }
  }
  if (payload === undefined) {
    throw new PolicyError(
      'ERR_POLICY_SIGNATURE',
      `the bundle signature does not verify against any trusted key${header.kid ? ` (kid ${header.kid})` : ''}`,
      { file },
    )
  }
  let manifestRaw: unknown
  try {
    manifestRaw = JSON.parse(new TextDecoder().decode(payload))
  } catch (e) {
    throw new PolicyError('ERR_POLICY_BUNDLE', 'the signed manifest is not JSON', { file }, { cause: e })
  }
  const manifest = manifestSchema.safeParse(manifestRaw)
  if (!manifest.success) {
    throw new PolicyError('ERR_POLICY_BUNDLE', `malformed manifest: ${manifest.error.issues[0].message}`, {
      file,
    })
  }
  const files = shape.data.files
  const listed = new Set(manifest.data.files.map((f) => f.name))
  for (const name of Object.keys(files)) {
    if (!listed.has(name))
      throw new PolicyError('ERR_POLICY_BUNDLE', `bundle file "${name}" is not in the signed manifest`, {
        file,
      })
  }
  const sources = manifest.data.files.map((f) => {
    const content = files[f.name]
    if (content === undefined)
      throw new PolicyError('ERR_POLICY_BUNDLE', `bundle is missing "${f.name}" listed in the manifest`, {
        file,
      })
    if (sha256(content) !== f.sha256) {
      throw new PolicyError(
        'ERR_POLICY_BUNDLE',
        `bundle file "${f.name}" does not match its signed SHA-256 digest`,
        { file },
      )
    }
    return { source: `${file}#${f.name}`, text: content }
  })
  return { manifest: manifest.data as BundleManifest, sources, kid: header.kid }
}

function isNormalized(keys: readonly unknown[]): keys is readonly NormalizedKey[] {
  return (
    keys.length > 0 && keys.every((k) => typeof k === 'object' && k !== null && 'key' in k && !('kty' in k))
  )
}

/** Verifies and compiles a bundle into a `Policy` (revision = content hash of its files). */
export async function compileBundle(
  text: string,
  trustedKeys: readonly TrustedKey[] | readonly NormalizedKey[],
  options: CompilePolicyOptions = {},
): Promise<Policy> {
  const verified = await verifyBundle(text, trustedKeys, { source: options.source })
  return compilePolicy(verified.sources, options)
}
