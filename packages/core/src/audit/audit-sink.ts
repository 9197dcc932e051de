import type { AuditEntry } from './audit-record.js'

/**
 * Where audit lines go. Core owns the hash chain (seq, prev, hash) and hands the sink the finished
 * canonical line, so a custom sink only stores lines.
 *
 * The record comes first: core sends a command only after `stored()` (or, without it, `flush()`)
 * says its command record is stored, and releases the result only after the same for its outcome.
 */
export interface AuditSink {
  /** Hot path: enqueue synchronously (no I/O wait). Throws once the sink has failed. */
  write(line: string, record: Readonly<AuditEntry>): boolean | undefined
  /**
   * Resolves once every line written so far is stored as this sink promises (a file sink: in the
   * file, or on disk with fsync), or returns undefined when it already is. Rejects if storing failed.
   * Optional: without it core awaits `flush()`.
   */
  stored?(): Promise<void> | undefined
  /** Stores now, synchronously, what was written (signal handlers and audited checks). Optional. */
  flushSync?(): void
  /** Resolves when everything written so far is stored and durable; rejects if storing failed. */
  flush(): Promise<void>
  close(): Promise<void>
  /**
   * The chain head already stored (last `seq` and `hash`), so a chain continues across restarts.
   * Called once, when the Warden is created. Omit for sinks that start empty.
   */
  head?(): { readonly seq: number; readonly hash: string } | undefined
  /** The storing error once writing failed (checked before each command, to fail closed early). */
  failure?(): Error | undefined
}
