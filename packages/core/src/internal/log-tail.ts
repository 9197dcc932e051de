import { createHash } from 'node:crypto'
import { fstatSync, ftruncateSync, readSync, writeSync } from 'node:fs'
import { WardenError } from '@warden/policy'
import { canonicalObject } from './canonical-json.js'
import { sha256Hex } from './sha256.js'

export interface ChainHead {
  readonly seq: number
  readonly hash: string
}

export interface LogTail {
  /** The last complete record's seq and hash (undefined: no record in the file). */
  readonly head: ChainHead | undefined
  /** Bytes after the last complete line that were removed (a torn write). */
  readonly torn?: { readonly bytes: number; readonly sha256: string }
}

/**
 * Reads the end of an audit file opened for appending and makes it end on a complete record.
 * A torn last line (a write cut short by a crash or a full disk) is truncated; a last line that is
 * a whole, valid record missing only its newline gets the newline. Anything else at the end (a
 * complete line that is not a record) is refused: that is damage or tampering, not a torn write.
 */
export function readTail(fd: number, path: string): LogTail {
  const size = fstatSync(fd).size
  if (size === 0) return { head: undefined }
  let chunk = 8192
  for (;;) {
    const start = Math.max(0, size - chunk)
    const buf = Buffer.alloc(size - start)
    readSync(fd, buf, 0, buf.length, start)
    const lastNl = buf.lastIndexOf(0x0a)
    // Need the whole last line and the whole line before it, unless the file starts in this chunk.
    const prevNl = lastNl <= 0 ? -1 : buf.lastIndexOf(0x0a, lastNl - 1)
    if (start > 0 && (lastNl < 0 || prevNl < 0)) {
      chunk *= 4
      continue
    }
    const tail = buf.subarray(lastNl + 1)
    let torn: LogTail['torn']
    if (tail.length > 0) {
      const whole = wholeRecord(tail.toString('utf8'))
      if (whole !== undefined) {
        writeSync(fd, '\n')
        return { head: whole }
      }
      ftruncateSync(fd, start + lastNl + 1)
      torn = { bytes: tail.length, sha256: `sha256:${createHash('sha256').update(tail).digest('hex')}` }
    }
    if (lastNl < 0) return { head: undefined, torn }
    const last = buf.subarray(prevNl + 1, lastNl).toString('utf8')
    const head = headOf(last)
    if (head === undefined) {
      throw new WardenError(
        'ERR_WARDEN_AUDIT',
        `jsonlSink: the last line of ${path} is not an audit record (not a torn write: the line is complete); ` +
          'run `warden audit verify` on it and move the file aside before appending',
      )
    }
    return { head, torn }
  }
}

function headOf(text: string): ChainHead | undefined {
  try {
    const rec = JSON.parse(text) as { seq?: unknown; hash?: unknown }
    if (typeof rec?.seq === 'number' && typeof rec.hash === 'string') return { seq: rec.seq, hash: rec.hash }
  } catch {}
  return undefined
}

/** A torn tail that is in fact one whole record whose hash verifies (only the newline was lost). */
function wholeRecord(text: string): ChainHead | undefined {
  let rec: Record<string, unknown>
  try {
    rec = JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (rec === null || typeof rec !== 'object' || typeof rec.seq !== 'number' || typeof rec.hash !== 'string')
    return undefined
  return `sha256:${sha256Hex(canonicalObject(rec, 'hash'))}` === rec.hash
    ? { seq: rec.seq, hash: rec.hash }
    : undefined
}
