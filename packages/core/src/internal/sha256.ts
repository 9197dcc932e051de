import crypto from 'node:crypto'

// crypto.hash (Node >= 20.12) hashes in one call without a Hash object: about twice as fast for
// audit-record-sized inputs. Fall back to createHash on older runtimes.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash

export const sha256Hex: (data: string) => string =
  typeof oneShot === 'function'
    ? (data) => oneShot('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex')
