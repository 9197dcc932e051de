import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto'
import { WardenTypeError } from '@warden/policy'
import { canonicalObject } from '../internal/canonical-json.js'

export type CheckpointReason = 'interval' | 'count' | 'open' | 'close'

/**
 * A signed statement of an audit chain's head: "the log `log` had record `seq` with hash `hash`
 * at `time`". Ed25519 over the canonical JSON of the checkpoint without `sig` (base64url). Stored
 * apart from the log, it lets a verifier with the public key detect a log cut short (truncation), a
 * log rewritten and re-chained, and records appended after the writer closed it (docs/audit.md).
 */
export interface Checkpoint {
  readonly v: 1
  readonly type: 'checkpoint'
  /** The chain's id: the hash of its seq-1 record. */
  readonly log: string
  readonly seq: number
  readonly hash: string
  readonly time: string
  /** Why it was written: every N records, every T ms, when a writer reopened the log, on close. */
  readonly reason: CheckpointReason
  /** Which key signed it (`checkpointKeyId` of the public key unless the writer chose another). */
  readonly kid: string
  readonly sig: string
}

/** A private (PKCS8 PEM) or public (SPKI PEM) key, or a KeyObject. */
export type KeyInput = KeyObject | string

/** The Ed25519 private key to sign checkpoints with; throws WardenTypeError for anything else. */
export function checkpointPrivateKey(key: KeyInput): KeyObject {
  let k: KeyObject
  try {
    k = typeof key === 'string' ? createPrivateKey(key) : key
  } catch (err) {
    throw new WardenTypeError(`checkpoint key: not a PKCS8 PEM private key (${(err as Error).message})`)
  }
  if (k?.type !== 'private' || k.asymmetricKeyType !== 'ed25519')
    throw new WardenTypeError(
      `checkpoint key: must be an Ed25519 private key, got ${k?.type ?? typeof k} ${k?.asymmetricKeyType ?? ''}`.trim(),
    )
  return k
}

/** The Ed25519 public key to verify checkpoints with (a private key gives its public half). */
export function checkpointPublicKey(key: KeyInput): KeyObject {
  let k: KeyObject
  try {
    k = typeof key !== 'string' && key?.type === 'public' ? key : createPublicKey(key)
  } catch (err) {
    throw new WardenTypeError(`checkpoint public key: not an SPKI PEM public key (${(err as Error).message})`)
  }
  if (k.asymmetricKeyType !== 'ed25519')
    throw new WardenTypeError(`checkpoint public key: must be Ed25519, got ${k.asymmetricKeyType}`)
  return k
}

/** `ed25519:` + the first 16 hex digits of the sha256 of the public key (SPKI DER). */
export function checkpointKeyId(key: KeyInput): string {
  const der = checkpointPublicKey(key).export({ type: 'spki', format: 'der' })
  return `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`
}

/** A new Ed25519 key pair as PEM: `privateKey` (PKCS8) for the writer, `publicKey` (SPKI) for verifiers. */
export function generateCheckpointKeys(): { privateKey: string; publicKey: string; kid: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    kid: checkpointKeyId(publicKey),
  }
}

/** Signs a checkpoint body (everything but `sig`). */
export function signCheckpoint(body: Omit<Checkpoint, 'sig'>, key: KeyObject): Checkpoint {
  const payload = canonicalObject(body as Record<string, unknown>, 'sig')
  const sig = sign(null, Buffer.from(payload), key).toString('base64url')
  return { ...body, sig }
}

/** Whether `checkpoint.sig` is a valid signature by `publicKey` over the rest of it. */
export function checkpointSignatureValid(checkpoint: Checkpoint, publicKey: KeyObject): boolean {
  if (typeof checkpoint.sig !== 'string') return false
  const payload = canonicalObject(checkpoint as unknown as Record<string, unknown>, 'sig')
  const sig = Buffer.from(checkpoint.sig, 'base64url')
  // Node decodes base64 leniently: accept only the one spelling of the signature bytes.
  if (sig.toString('base64url') !== checkpoint.sig) return false
  try {
    return verify(null, Buffer.from(payload), publicKey, sig)
  } catch {
    return false
  }
}
