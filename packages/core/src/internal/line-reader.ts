import { open } from 'node:fs/promises'

const CHUNK = 1 << 20

export interface LinesRead {
  /** Complete lines (each ended by `\n`) passed to the callback. */
  readonly lines: number
  /** The callback asked to stop. */
  readonly stopped: boolean
  /** Bytes after the last `\n` (an unfinished or torn last line), 0 when the file ends with `\n`. */
  readonly tail: number
  /** A line exceeded `maxLineBytes` (reading stopped there). */
  readonly tooLong: boolean
}

/**
 * Calls `onLine(buffer, start, end, n)` for each complete line of `file` (bytes start..end, without
 * the newline; `n` is 1-based) until it returns false. Memory stays constant: two reused read
 * buffers (the next read runs while one is checked) plus one buffer for a line that spans reads
 * (bounded by `maxLineBytes`), so a file of any size is read. The callback must not keep
 * `buffer`: it is overwritten by a later read.
 */
export async function readLines(
  file: string,
  onLine: (buffer: Buffer, start: number, end: number, n: number) => boolean,
  maxLineBytes: number = 64 << 20,
): Promise<LinesRead> {
  const fh = await open(file, 'r')
  // Two read buffers: the next read runs while this one's lines are checked.
  let buf = Buffer.allocUnsafe(CHUNK)
  let spare = Buffer.allocUnsafe(CHUNK)
  let pending: Promise<{ bytesRead: number }> | undefined = fh.read(buf, 0, CHUNK, null)
  try {
    let carry: Buffer = Buffer.allocUnsafe(0)
    let carried = 0
    let n = 0
    for (;;) {
      const { bytesRead } = await (pending as Promise<{ bytesRead: number }>)
      pending = undefined
      if (bytesRead === 0) return { lines: n, stopped: false, tail: carried, tooLong: false }
      const chunk = buf
      buf = spare
      spare = chunk
      pending = fh.read(buf, 0, CHUNK, null)
      let from = 0
      for (;;) {
        const nl = chunk.indexOf(0x0a, from)
        if (nl === -1 || nl >= bytesRead) break
        let ok: boolean
        if (carried > 0) {
          // The line began in an earlier read: finish it in the carry buffer.
          const len = carried + (nl - from)
          if (len > maxLineBytes) return { lines: n, stopped: true, tail: 0, tooLong: true }
          carry = grow(carry, carried, len)
          chunk.copy(carry, carried, from, nl)
          carried = 0
          ok = onLine(carry, 0, len, ++n)
        } else {
          if (nl - from > maxLineBytes) return { lines: n, stopped: true, tail: 0, tooLong: true }
          ok = onLine(chunk, from, nl, ++n)
        }
        if (!ok) return { lines: n, stopped: true, tail: 0, tooLong: false }
        from = nl + 1
      }
      if (from < bytesRead) {
        const len = carried + (bytesRead - from)
        if (len > maxLineBytes) return { lines: n, stopped: true, tail: 0, tooLong: true }
        carry = grow(carry, carried, len)
        chunk.copy(carry, carried, from, bytesRead)
        carried = len
      }
    }
  } finally {
    // Never close the file under a read in flight.
    await pending?.catch(() => undefined)
    await fh.close()
  }
}

/** `carry` with room for `len` bytes, its first `used` bytes kept. */
function grow(carry: Buffer, used: number, len: number): Buffer {
  if (carry.length >= len) return carry
  const next = Buffer.allocUnsafe(Math.max(len, carry.length * 2, 4096))
  carry.copy(next, 0, 0, used)
  return next
}
