import { closeSync, fstatSync, openSync, writeSync } from 'node:fs'
import { WardenError } from '@warden/policy'
import { GENESIS, sealRecord } from './audit-chain.js'
import { newId } from './ids.js'
import { type LogLock, lockLog } from './log-lock.js'
import { archived, segmentPath } from './log-segments.js'
import { type ChainHead, type LogTail, readTail } from './log-tail.js'

/** An audit file opened for appending by its one writer. */
export interface OpenedLog {
  readonly lock: LogLock
  readonly fd: number
  readonly size: number
  /** The number of the newest archived segment (0: none). */
  readonly segment: number
  /** The chain head the file (or, when it is new after a rotation, the last segment) ends on. */
  readonly head: ChainHead | undefined
  /** Bytes of a torn last line that were cut off. */
  readonly torn: LogTail['torn']
}

/**
 * Locks `path` (one writer), opens it for appending, and makes it end on a complete record; the
 * caller records any cut (`repairLine`). On failure nothing stays open or locked.
 */
export function openLog(path: string, mode: number): OpenedLog {
  const lock = lockLog(path)
  let fd: number
  try {
    fd = openSync(path, 'a+', mode)
  } catch (err) {
    lock.release()
    throw new WardenError('ERR_WARDEN_AUDIT', `jsonlSink: cannot open ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  try {
    const segments = archived(path)
    const segment = segments.length > 0 ? segments[segments.length - 1] : 0
    let { head, torn } = readTail(fd, path)
    if (head === undefined && torn === undefined && segment > 0) {
      // The live file is new (rotated just before a restart): continue from the last segment.
      const last = segmentTail(segmentPath(path, segment))
      head = last.head
      torn = last.torn
    }
    return { lock, fd, size: fstatSync(fd).size, segment, head, torn }
  } catch (err) {
    closeSync(fd)
    lock.release()
    throw err instanceof WardenError
      ? err
      : new WardenError('ERR_WARDEN_AUDIT', `jsonlSink: cannot read ${path}: ${(err as Error).message}`, {
          cause: err,
        })
  }
}

/** The sealed `repair` record that chains the removal of a torn tail after `head`. */
export function repairLine(
  head: ChainHead | undefined,
  torn: NonNullable<LogTail['torn']>,
): { line: string; head: ChainHead } {
  const seq = (head?.seq ?? 0) + 1
  const { hash, line } = sealRecord({
    v: 1,
    id: newId(),
    time: new Date().toISOString(),
    seq,
    session: '',
    prev: head?.hash ?? GENESIS,
    type: 'repair',
    truncated: torn,
  })
  return { line, head: { seq, hash } }
}

export function writeFully(fd: number, data: Buffer): void {
  let off = 0
  while (off < data.length) off += writeSync(fd, data, off, data.length - off)
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd)
  } catch {}
}

function segmentTail(path: string): LogTail {
  const fd = openSync(path, 'r+')
  try {
    return readTail(fd, path)
  } finally {
    closeSync(fd)
  }
}
