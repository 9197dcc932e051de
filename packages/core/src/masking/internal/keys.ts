// Key material for the keyed strategies. The caller's key is stretched once with HKDF into
// independent subkeys (hash, tokenize MAC, tokenize encryption), so the raw key is never kept.
import { createCipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { WardenError } from '@warden/policy'
import { type Secret, isSecret, revealSecret } from '../../secret.js'

export interface MaskingKeys {
  readonly hash: Buffer
  readonly mac: Buffer
  readonly enc: Buffer
}

const SALT = 'warden-masking-v1'
export const TOKEN_PREFIX = 'tok:'
export const HASH_PREFIX = 'hash:'

export function keyMaterial(key: string | Secret | undefined, where: string): Buffer | undefined {
  if (key === undefined) return undefined
  const raw = isSecret(key) ? revealSecret(key) : key
  if (typeof raw !== 'string') throw new TypeError(`${where}: "key" must be a string or a Secret`)
  // A short key makes hashes of small domains (SSNs, phone numbers) guessable offline.
  if (Buffer.byteLength(raw) < 16) throw new TypeError(`${where}: "key" must be at least 16 bytes`)
  return Buffer.from(raw, 'utf8')
}

export function deriveKeys(material: Buffer | undefined): MaskingKeys {
  const ikm = material ?? randomBytes(32)
  const sub = (info: string) => Buffer.from(hkdfSync('sha256', ikm, SALT, info, 32))
  return { hash: sub('hash'), mac: sub('tokenize-mac'), enc: sub('tokenize-enc') }
}

export function hashValue(keys: MaskingKeys, value: string): string {
  return HASH_PREFIX + createHmac('sha256', keys.hash).update(value).digest('hex').slice(0, 32)
}

// Deterministic authenticated encryption in the SIV style (RFC 5297's construction with
// HMAC-SHA256 as the PRF): the IV is a MAC of the plaintext, so equal values give equal tokens
// (joins and GROUP BY still work) and a token can only be opened, and checked, with the key.
export function tokenizeValue(keys: MaskingKeys, value: string): string {
  const plain = Buffer.from(value, 'utf8')
  const iv = createHmac('sha256', keys.mac).update(plain).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-256-ctr', keys.enc, iv)
  const body = Buffer.concat([iv, cipher.update(plain), cipher.final()])
  return TOKEN_PREFIX + body.toString('base64url')
}

export function openToken(keys: MaskingKeys, token: string): string {
  const bad = () => new WardenError('ERR_WARDEN_MASKING', 'detokenize: not a token made with this key')
  if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX)) throw bad()
  const body = Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url')
  if (body.length < 16) throw bad()
  const iv = body.subarray(0, 16)
  const decipher = createCipheriv('aes-256-ctr', keys.enc, iv)
  const plain = Buffer.concat([decipher.update(body.subarray(16)), decipher.final()])
  const check = createHmac('sha256', keys.mac).update(plain).digest().subarray(0, 16)
  if (!timingSafeEqual(check, iv)) throw bad()
  return plain.toString('utf8')
}
