import { WardenTypeError } from '@warden/policy'
// SSH wire encoding (RFC 4251 §5): the few types certificates and auth packets need.

export function sshString(value: string | Uint8Array): Buffer {
  const body = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value)
  const length = Buffer.alloc(4)
  length.writeUInt32BE(body.length)
  return Buffer.concat([length, body])
}

export function sshUint32(value: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(value)
  return b
}

export function sshUint64(value: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(value)
  return b
}

/** Reads the SSH strings of a blob in order (for public key and certificate blobs). */
export function readSshStrings(blob: Buffer, count: number): Buffer[] {
  const out: Buffer[] = []
  let p = 0
  for (let i = 0; i < count; i++) {
    if (p + 4 > blob.length) throw new RangeError('truncated SSH blob')
    const len = blob.readUInt32BE(p)
    if (p + 4 + len > blob.length) throw new RangeError('truncated SSH blob')
    out.push(blob.subarray(p + 4, p + 4 + len))
    p += 4 + len
  }
  return out
}

/** `type base64 [comment]` → the decoded blob, checking that the blob names the same type. */
export function parsePublicKeyLine(line: string): { type: string; blob: Buffer } {
  const [type, b64] = line.trim().split(/\s+/)
  if (!type || !b64) throw new WardenTypeError('not an OpenSSH public key line ("type base64 [comment]")')
  const blob = Buffer.from(b64, 'base64')
  const [inner] = readSshStrings(blob, 1)
  if (inner.toString() !== type)
    throw new WardenTypeError(`public key line says ${type} but its blob says ${inner}`)
  return { type, blob }
}
