import type { AuditRecord } from './audit-record.js'

/**
 * Where audit lines go. Core owns the hash chain (seq, prev, hash) and hands the sink
 * the finished canonical line, so a custom sink only stores lines.
 */
export interface AuditSink {
  /**
   * Hot path: enqueue synchronously. Returns false when the buffer is full (core then waits for
   * `flush()` before the command returns: records are never dropped). Throws once the sink has failed.
   */
  write(line: string, record: Readonly<AuditRecord>): boolean
  /** Resolves when everything written so far is stored; rejects if storing failed. */
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
