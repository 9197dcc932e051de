// Key material for the keyed strategies. The caller's key is stretched once with HKDF into
// independent subkeys (hash, tokenize MAC, tokenize encryption), so the raw key is never kept.
import { type Cipher, createCipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { WardenError, WardenTypeError } from '@warden/policy'
import { isSecret, revealSecret, type Secret } from '../../secret.js'

export interface MaskingKeys {
  readonly hash: Buffer
  readonly mac: Buffer
  /** AES-256 in ECB mode, used only to make the CTR keystream (one cipher object, reused: ~3× faster than a new CTR cipher per value). */
  readonly ecb: Cipher
}

const SALT = 'warden-masking-v1'
export const TOKEN_PREFIX = 'tok:'
export const HASH_PREFIX = 'hash:'

export function keyMaterial(key: string | Secret | undefined, where: string): Buffer | undefined {
  if (key === undefined) return undefined
  const raw = isSecret(key) ? revealSecret(key) : key
  if (typeof raw !== 'string') throw new WardenTypeError(`${where}: "key" must be a string or a Secret`)
  // A short key makes hashes of small domains (SSNs, phone numbers) guessable offline.
  if (Buffer.byteLength(raw) < 16) throw new WardenTypeError(`${where}: "key" must be at least 16 bytes`)
  return Buffer.from(raw, 'utf8')
}

export function deriveKeys(material: Buffer | undefined): MaskingKeys {
  const ikm = material ?? randomBytes(32)
  const sub = (info: string) => Buffer.from(hkdfSync('sha256', ikm, SALT, info, 32))
  const ecb = createCipheriv('aes-256-ecb', sub('tokenize-enc'), null)
  ecb.setAutoPadding(false)
  return { hash: sub('hash'), mac: sub('tokenize-mac'), ecb }
}

/** AES-CTR (NIST SP 800-38A, 128-bit big-endian counter from `iv`), in place; the same as `aes-256-ctr`. */
function ctr(keys: MaskingKeys, iv: Buffer, data: Buffer): Buffer {
  const blocks = Math.ceil(data.length / 16)
  if (blocks === 0) return data
  const counters = Buffer.allocUnsafe(blocks * 16)
  const block = Buffer.from(iv)
  for (let b = 0; b < blocks; b++) {
    block.copy(counters, b * 16)
    for (let i = 15; i >= 0; i--) {
      block[i] = (block[i] + 1) & 0xff
      if (block[i] !== 0) break
    }
  }
  const stream = keys.ecb.update(counters)
  for (let i = 0; i < data.length; i++) data[i] ^= stream[i]
  return data
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
  const body = Buffer.concat([iv, ctr(keys, iv, Buffer.from(plain))])
  return TOKEN_PREFIX + body.toString('base64url')
}

export function openToken(keys: MaskingKeys, token: string): string {
  const bad = () => new WardenError('ERR_WARDEN_MASKING', 'detokenize: not a token made with this key')
  if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX)) throw bad()
  const body = Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url')
  if (body.length < 16) throw bad()
  const iv = body.subarray(0, 16)
  const plain = ctr(keys, iv, Buffer.from(body.subarray(16)))
  const check = createHmac('sha256', keys.mac).update(plain).digest().subarray(0, 16)
  if (!timingSafeEqual(check, iv)) throw bad()
  return plain.toString('utf8')
}
