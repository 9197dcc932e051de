import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, openSync, renameSync } from 'node:fs'
import { WardenError, WardenTypeError } from '@warden/policy'
import { closeQuietly, openLog, repairLine, writeFully } from '../internal/log-file.js'
import type { LogLock } from '../internal/log-lock.js'
import { auditSegments, segmentPath } from '../internal/log-segments.js'
import type { ChainHead } from '../internal/log-tail.js'
import { SyncLedger, type Waiter, waiter } from '../internal/sync-ledger.js'
import type { AuditEntry } from './audit-record.js'
import type { AuditSink } from './audit-sink.js'
import { type Checkpointer, type CheckpointerOptions, createCheckpointer } from './checkpointer.js'
import { auditChainId } from './verify-chain.js'

export interface JsonlSinkOptions {
  /**
   * Every record reaches the file (the OS holds it: it survives the process being killed) before
   * its command is sent or its result released. `fsync` says when it is also on disk:
   * `always`: before the command proceeds (group commit: one fdatasync covers every record written
   * since the last one); `batch` (default): in the background, at most ~2 ms later (a power cut can
   * lose those last milliseconds); `none`: when the OS decides.
   */
  readonly fsync?: 'always' | 'batch' | 'none'
  /** File mode when the file is created (default 0o600). */
  readonly mode?: number
  /**
   * Start a new segment when the live file reaches `maxBytes` or is older than `intervalMs`. The
   * live file keeps its name; older segments become `<path>.000001`, `<path>.000002`, … and the
   * chain continues across them (`auditSegments(path)` lists them in order for `verifyChain`).
   */
  readonly rotate?: { readonly maxBytes?: number; readonly intervalMs?: number }
  /**
   * Signed checkpoints of the chain head (Ed25519), written to a store the log's writer cannot
   * rewrite unnoticed: every `every` records or `intervalMs`, when the sink reopens an existing log
   * (before it appends) and when it closes. `warden audit verify --checkpoints … --public-key …`
   * then detects truncation, re-chaining and forged appends (docs/audit.md).
   */
  readonly checkpoints?: CheckpointerOptions
}

export interface JsonlSink extends AuditSink {
  readonly path: string
}

// `batch`: how long written lines may wait for their background fdatasync.
const SYNC_MS = 2

/**
 * Append-only JSON-lines audit file, held by one writer (a lock file beside it). Lines written in
 * one turn of the event loop go out in one synchronous write (group commit; no threadpool round
 * trip); the records of a command are stored before it proceeds (see `fsync`). On open, a torn last
 * line is cut off and the cut is itself recorded (a `repair` record), so the chain continues.
 * @example
 * const audit = jsonlSink('audit.jsonl', { fsync: 'always', rotate: { maxBytes: 64 << 20 } })
 */
export function jsonlSink(path: string, options: JsonlSinkOptions = {}): JsonlSink {
  if (typeof path !== 'string' || path === '')
    throw new WardenTypeError('jsonlSink: path must be a file path')
  const fsync = options.fsync ?? 'batch'
  if (fsync !== 'always' && fsync !== 'batch' && fsync !== 'none') {
    throw new WardenTypeError(`jsonlSink: fsync must be 'always', 'batch' or 'none', got ${String(fsync)}`)
  }
  const rotate = options.rotate ?? {}
  for (const key of ['maxBytes', 'intervalMs'] as const) {
    const v = rotate[key]
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0))
      throw new WardenTypeError(`jsonlSink: rotate.${key} must be a positive integer, got ${String(v)}`)
  }
  const checkpointer = options.checkpoints === undefined ? undefined : createCheckpointer(options.checkpoints)
  return new JsonlFileSink(path, { fsync, mode: options.mode ?? 0o600, rotate, checkpointer })
}

interface SinkSettings {
  readonly fsync: 'always' | 'batch' | 'none'
  readonly mode: number
  readonly rotate: NonNullable<JsonlSinkOptions['rotate']>
  readonly checkpointer: Checkpointer | undefined
}

class JsonlFileSink implements JsonlSink {
  readonly path: string
  readonly #fsync: 'always' | 'batch' | 'none'
  readonly #mode: number
  readonly #maxBytes: number
  readonly #intervalMs: number
  readonly #lock: LogLock
  #fd: number
  #size: number
  #openedAt = Date.now()
  #segment: number
  #head: ChainHead | undefined

  #pending: string[] = []
  #pendingWaiter: Waiter | undefined
  #scheduled = false
  readonly #ledger = new SyncLedger()
  #syncing = false
  #syncDone: Promise<void> | undefined
  #syncTimer: NodeJS.Timeout | undefined
  /** A rotated segment's descriptor, closed once the fdatasync running on it ends. */
  #retiring: number | undefined
  #failure: Error | undefined
  #closed = false
  #closing: Promise<void> | undefined

  readonly #checkpointer: Checkpointer | undefined
  /** Until the reopened log's `open` checkpoint is stored, nothing is appended. */
  #opening: Promise<void> | undefined
  /** The last record written to the file (what a checkpoint may vouch for once it is durable). */
  #written: ChainHead | undefined

  constructor(path: string, settings: SinkSettings) {
    this.path = path
    this.#fsync = settings.fsync
    this.#mode = settings.mode
    this.#maxBytes = settings.rotate.maxBytes ?? Number.POSITIVE_INFINITY
    this.#intervalMs = settings.rotate.intervalMs ?? Number.POSITIVE_INFINITY
    this.#checkpointer = settings.checkpointer
    const log = openLog(path, settings.mode)
    this.#lock = log.lock
    this.#fd = log.fd
    this.#size = log.size
    this.#segment = log.segment
    this.#head = log.head
    this.#written = log.head
    try {
      if (this.#checkpointer !== undefined && this.#head !== undefined) {
        // A reopened log: its `open` checkpoint is stored before anything is appended, so
        // records found between a `close` and this `open` were not written by a key holder.
        const head = this.#head
        this.#opening = auditChainId(auditSegments(path))
          .then((log) => this.#checkpointer?.opened(head.seq, head.hash, log))
          .then(
            () => {
              this.#opening = undefined
              if (this.#pending.length > 0 && !this.#failure) this.#writeBatch()
            },
            (err: unknown) => {
              this.#opening = undefined
              this.#fail(err instanceof Error ? err : new Error(String(err)))
            },
          )
      }
      if (log.torn !== undefined) this.#repair(log.torn)
    } catch (err) {
      closeSync(this.#fd)
      this.#lock.release()
      throw err instanceof WardenError
        ? err
        : new WardenError('ERR_WARDEN_AUDIT', `jsonlSink: cannot repair ${path}: ${(err as Error).message}`, {
            cause: err,
          })
    }
  }

  head(): ChainHead | undefined {
    return this.#head
  }

  failure(): Error | undefined {
    const checkpoint = this.#checkpointer?.failure()
    if (checkpoint !== undefined && this.#failure === undefined) this.#fail(checkpoint)
    return this.#failure
  }

  write(line: string, record: Readonly<AuditEntry>): boolean {
    if (this.#failure) throw this.#failure
    if (this.#closed) throw new WardenError('ERR_WARDEN_AUDIT', `jsonlSink ${this.path}: write after close`)
    this.#head = { seq: record.seq, hash: record.hash }
    // A new log's chain id is the hash of its first record: checkpoints name the log by it.
    if (record.seq === 1) this.#checkpointer?.opened(0, '', record.hash).catch(() => {})
    this.#pending.push(line)
    if (this.#opening !== undefined) return true
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#onTurn)
      // The first record of a turn goes out at once: at low concurrency no batch would form, and
      // the command proceeds without waiting for the turn to end. Records that follow it in the
      // same turn (busy moments) go out together at the end of the turn, in one write.
      this.#writeBatch()
      if (this.#failure) throw this.#failure
    }
    return true
  }

  stored(): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure)
    if (this.#opening !== undefined) return this.#opening.then(() => this.stored())
    if (this.#pending.length > 0) {
      this.#pendingWaiter ??= waiter()
      return this.#pendingWaiter.promise
    }
    return this.#fsync === 'always' ? this.#untilSynced(this.#ledger.written) : undefined
  }

  flushSync(): void {
    if (this.#failure) throw this.#failure
    // Still waiting for the reopened log's `open` checkpoint: nothing may be appended yet.
    if (this.#opening !== undefined) return
    if (this.#pending.length > 0) this.#writeBatch()
    if (this.#failure) throw this.#failure
    if (this.#fsync !== 'none' && this.#ledger.synced < this.#ledger.written) {
      try {
        fdatasyncSync(this.#fd)
      } catch (err) {
        this.#fail(err as Error)
        throw this.#failure
      }
      this.#ledger.covered(this.#ledger.written)
    }
  }

  async flush(): Promise<void> {
    await this.stored()
    if (this.#fsync !== 'none') await this.#untilSynced(this.#ledger.written)
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    try {
      if (!this.#failure) await this.flush()
      // The final checkpoint vouches for everything this writer wrote.
      if (this.#checkpointer !== undefined && !this.#failure)
        await this.#checkpointer.close(this.#written?.seq ?? 0, this.#written?.hash ?? '')
    } catch (err) {
      this.#failure ??= err instanceof Error ? err : new Error(String(err))
    } finally {
      this.#closed = true
      if (this.#syncTimer !== undefined) clearTimeout(this.#syncTimer)
      // An fdatasync still in flight would use a closed descriptor: let it finish first.
      if (this.#syncing) await this.#syncDone
      closeSync(this.#fd)
      this.#lock.release()
    }
    if (this.#failure) throw this.#failure
  }

  readonly #onTurn = (): void => {
    this.#scheduled = false
    if (this.#pending.length > 0 && !this.#failure) this.#writeBatch()
  }

  #writeBatch(): void {
    const lines = this.#pending
    const batch = this.#pendingWaiter
    this.#pending = []
    this.#pendingWaiter = undefined
    const data = Buffer.from(lines.length === 1 ? `${lines[0]}\n` : `${lines.join('\n')}\n`)
    const before = this.#size
    try {
      writeFully(this.#fd, data)
    } catch (err) {
      // Leave no torn line behind if the file system lets us (a full disk still allows shrinking).
      try {
        ftruncateSync(this.#fd, before)
      } catch {}
      const failure = this.#fail(err as Error)
      batch?.reject(failure)
      return
    }
    this.#size += data.length
    this.#written = this.#head
    const gen = this.#ledger.wrote()
    if (this.#fsync === 'always') {
      if (batch !== undefined) this.#ledger.add(gen, batch)
      this.#startSync()
    } else {
      batch?.resolve()
      if (this.#fsync === 'none') this.#vouch(this.#written)
      if (this.#fsync === 'batch' && this.#syncTimer === undefined && !this.#syncing) {
        this.#syncTimer = setTimeout(this.#onSyncTimer, SYNC_MS)
        this.#syncTimer.unref()
      }
    }
    if (this.#size >= this.#maxBytes || Date.now() - this.#openedAt >= this.#intervalMs) this.#rotate()
  }

  readonly #onSyncTimer = (): void => {
    this.#syncTimer = undefined
    if (!this.#failure && !this.#closed) this.#startSync()
  }

  #untilSynced(gen: number): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure)
    const until = this.#ledger.until(gen)
    if (until !== undefined) this.#startSync()
    return until
  }

  #startSync(): void {
    if (this.#syncing || this.#failure || this.#ledger.synced >= this.#ledger.written) return
    if (this.#syncTimer !== undefined) {
      clearTimeout(this.#syncTimer)
      this.#syncTimer = undefined
    }
    this.#syncing = true
    const gen = this.#ledger.written
    const head = this.#written
    let done!: () => void
    this.#syncDone = new Promise((resolve) => {
      done = resolve
    })
    fdatasync(this.#fd, (err) => {
      this.#syncing = false
      if (this.#retiring !== undefined) {
        closeQuietly(this.#retiring)
        this.#retiring = undefined
      }
      done()
      if (err) {
        this.#fail(err)
        return
      }
      this.#ledger.covered(gen)
      this.#vouch(head)
      // Lines written while this sync ran wait for the next one (group commit).
      if (this.#ledger.waiting) this.#startSync()
    })
  }

  /** Tells the checkpointer what is durably written; a failed checkpoint store fails the sink. */
  #vouch(head: ChainHead | undefined): void {
    const checkpointer = this.#checkpointer
    if (checkpointer === undefined || head === undefined) return
    checkpointer.written(head.seq, head.hash)
    const failure = checkpointer.failure()
    if (failure !== undefined) this.#fail(failure)
  }

  #rotate(): void {
    try {
      // The segment is complete and durable before it gets its archive name.
      if (this.#fsync !== 'none') {
        fdatasyncSync(this.#fd)
        this.#ledger.covered(this.#ledger.written)
      }
      // An fdatasync in flight still uses the old descriptor: close it when that ends.
      if (this.#syncing) this.#retiring = this.#fd
      else closeSync(this.#fd)
      renameSync(this.path, segmentPath(this.path, this.#segment + 1))
      this.#segment++
      this.#fd = openSync(this.path, 'a+', this.#mode)
      this.#size = 0
      this.#openedAt = Date.now()
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  /** Records the removal of a torn tail as the next link of the chain (written and synced at once). */
  #repair(torn: { readonly bytes: number; readonly sha256: string }): void {
    const { line, head } = repairLine(this.#head, torn)
    this.#head = head
    if (this.#opening !== undefined) {
      // Appended (first) once the `open` checkpoint is stored.
      this.#pending.push(line)
      return
    }
    writeFully(this.#fd, Buffer.from(`${line}\n`))
    fdatasyncSync(this.#fd)
    this.#written = this.#head
  }

  #fail(err: Error): Error {
    this.#failure ??= new WardenError(
      'ERR_WARDEN_AUDIT',
      `jsonlSink ${this.path}: ${err.message}; nothing more is written to it`,
      { cause: err },
    )
    const failure = this.#failure
    // Nothing queued is dropped silently: every command waiting on a record hears the failure.
    this.#pending = []
    this.#pendingWaiter?.reject(failure)
    this.#pendingWaiter = undefined
    this.#ledger.fail(failure)
    if (this.#syncTimer !== undefined) clearTimeout(this.#syncTimer)
    this.#syncTimer = undefined
    return failure
  }
}
