import { closeSync, fdatasync, fstatSync, openSync, readSync, write } from 'node:fs'
import { WardenError } from '@warden/policy'
import type { AuditRecord } from './audit-record.js'
import type { AuditSink } from './audit-sink.js'

export interface JsonlSinkOptions {
  /**
   * `always`: each record is written and fdatasync'ed on its own; `batch` (default): records queued
   * since the last write go out in one write, and one fdatasync covers the writes of the last ~2 ms
   * (group commit; `flush()` syncs at once); `none`: batched writes, no fsync (the OS decides;
   * fastest, loses the last records on a power cut).
   */
  readonly fsync?: 'always' | 'batch' | 'none'
  /** Queued records at which `write` reports full and commands wait for the disk (default 8192). */
  readonly highWaterMark?: number
  /** File mode when the file is created (default 0o600). */
  readonly mode?: number
}

// Queued lines at which a write starts without waiting for the next event-loop turn.
const EAGER = 256
// `batch`: group commit. Lines are written to the file promptly (a process crash loses no more than
// before), but fdatasync runs at most once per SYNC_MS unless someone waits in flush(): one
// fdatasync per command cost more than the command itself when commands come one at a time.
const SYNC_MS = 2

export interface JsonlSink extends AuditSink {
  readonly path: string
}

/**
 * Append-only JSON-lines audit file. One writer per file: the chain continues from the file's last
 * record when the process restarts. Lines are queued synchronously and written in the background;
 * nothing queued is lost on `flush()`/`close()`, and a full queue makes commands wait (never drops).
 */
export function jsonlSink(path: string, options: JsonlSinkOptions = {}): JsonlSink {
  const fsync = options.fsync ?? 'batch'
  if (fsync !== 'always' && fsync !== 'batch' && fsync !== 'none') {
    throw new WardenError(
      'ERR_WARDEN_CONFIG',
      `jsonlSink: fsync must be 'always', 'batch' or 'none', got ${String(fsync)}`,
    )
  }
  const highWaterMark = options.highWaterMark ?? 8192
  let fd: number
  try {
    fd = openSync(path, 'a+', options.mode ?? 0o600)
  } catch (err) {
    throw new WardenError('ERR_WARDEN_AUDIT', `jsonlSink: cannot open ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  const head = readHead(fd, path)

  let queue: string[] = []
  // `scheduled`: a batch write is queued for the next turn; `writing`: a write/fsync is in flight.
  let scheduled = false
  let writing = false
  let closed = false
  let failure: Error | undefined
  let waiters: { resolve: () => void; reject: (err: Error) => void }[] = []
  // `batch`: written but not yet fdatasync'ed; when the last fdatasync started; the pending sync timer.
  let unsynced = false
  let lastSync = 0
  let syncTimer: NodeJS.Timeout | undefined

  const settle = () => {
    if (writing || scheduled || queue.length > 0 || unsynced) return
    const w = waiters
    waiters = []
    for (const waiter of w) failure ? waiter.reject(failure) : waiter.resolve()
  }

  const fail = (err: Error) => {
    failure ??= new WardenError('ERR_WARDEN_AUDIT', `jsonlSink ${path}: ${err.message}`, { cause: err })
    queue = []
    writing = false
    unsynced = false
    if (syncTimer !== undefined) clearTimeout(syncTimer)
    syncTimer = undefined
    settle()
  }

  const onTurn = () => {
    scheduled = false
    pump()
  }

  const sync = () => {
    if (syncTimer !== undefined) {
      clearTimeout(syncTimer)
      syncTimer = undefined
    }
    writing = true
    unsynced = false
    lastSync = performance.now()
    fdatasync(fd, (syncErr) => {
      if (syncErr) return fail(syncErr)
      writing = false
      pump()
    })
  }

  const onSyncTimer = () => {
    syncTimer = undefined
    if (!writing && !failure && unsynced) sync()
  }

  const pump = () => {
    if (writing || failure) return
    if (queue.length === 0) {
      // Someone waits for durability: sync now rather than at the end of the interval.
      if (unsynced && waiters.length > 0) return sync()
      return settle()
    }
    writing = true
    let data: string
    if (fsync === 'always') {
      data = `${queue.shift() as string}\n`
    } else {
      queue.push('')
      data = queue.join('\n')
      queue = []
    }
    writeAll(fd, Buffer.from(data), (err) => {
      if (err) return fail(err)
      if (fsync === 'none') {
        writing = false
        return pump()
      }
      if (fsync === 'always' || waiters.length > 0 || performance.now() - lastSync >= SYNC_MS) return sync()
      // Group commit: more lines may come within the interval; one fdatasync then covers them all.
      unsynced = true
      writing = false
      if (syncTimer === undefined) {
        syncTimer = setTimeout(onSyncTimer, Math.max(0, SYNC_MS - (performance.now() - lastSync)))
        syncTimer.unref()
      }
      pump()
    })
  }

  return {
    path,
    write(line: string, _record: Readonly<AuditRecord>): boolean {
      if (failure) throw failure
      if (closed) throw new WardenError('ERR_WARDEN_AUDIT', `jsonlSink ${path}: write after close`)
      queue.push(line)
      if (!writing) {
        if (queue.length >= EAGER) {
          // A busy producer that never yields: start writing now rather than hold many records.
          pump()
        } else if (!scheduled) {
          scheduled = true
          // Batch everything written in this turn of the event loop into one write.
          setImmediate(onTurn)
        }
      }
      return queue.length < highWaterMark
    },
    flush(): Promise<void> {
      if (failure) return Promise.reject(failure)
      if (!writing && !scheduled && queue.length === 0 && !unsynced) return Promise.resolve()
      const done = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }))
      // Written but not synced, nothing in flight: sync now (pump does when it finds waiters).
      if (!writing && !scheduled) pump()
      return done
    },
    async close(): Promise<void> {
      if (closed) return
      try {
        await this.flush()
      } finally {
        closed = true
        if (syncTimer !== undefined) clearTimeout(syncTimer)
        closeSync(fd)
      }
    },
    head: () => head,
    failure: () => failure,
  }
}

function writeAll(fd: number, buf: Buffer, done: (err: Error | null) => void): void {
  write(fd, buf, 0, buf.length, null, (err, written) => {
    if (err) return done(err)
    if (written < buf.length) return writeAll(fd, buf.subarray(written), done)
    done(null)
  })
}

/** Reads the last complete line of the file to continue its chain (setup cost, once). */
function readHead(fd: number, path: string): { seq: number; hash: string } | undefined {
  const size = fstatSync(fd).size
  if (size === 0) return undefined
  let chunk = 4096
  for (;;) {
    const start = Math.max(0, size - chunk)
    const buf = Buffer.alloc(size - start)
    readSync(fd, buf, 0, buf.length, start)
    const text = buf.toString('utf8').replace(/\n+$/, '')
    const nl = text.lastIndexOf('\n')
    if (nl >= 0 || start === 0) {
      const last = text.slice(nl + 1)
      try {
        const rec = JSON.parse(last) as { seq?: unknown; hash?: unknown }
        if (typeof rec.seq === 'number' && typeof rec.hash === 'string')
          return { seq: rec.seq, hash: rec.hash }
      } catch {}
      throw new WardenError(
        'ERR_WARDEN_AUDIT',
        `jsonlSink: the last line of ${path} is not an audit record; run verifyChain on it and move it aside before appending`,
      )
    }
    chunk *= 4
  }
}
