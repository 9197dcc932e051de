import type { AuditRecord } from './audit-record.js'

/**
 * Where audit lines go. Core owns the hash chain (seq, prev, hash) and hands the sink
 * the finished canonical line, so a custom sink only stores lines.
 */
export interface AuditSink {
  /** Hot path: enqueue synchronously. Returns false when the buffer is full (core then waits for drain). */
  write(line: string, record: Readonly<AuditRecord>): boolean
  /** Resolves when everything written so far is stored; rejects if storing failed. */
  flush(): Promise<void>
  close(): Promise<void>
}
