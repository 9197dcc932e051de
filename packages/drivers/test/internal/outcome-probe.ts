// An audit sink beside memorySink that tells a test when an outcome record has been written, so a
// test awaits the record instead of sleeping.
import type { AuditEntry, AuditSink } from '@warden/core'

export interface OutcomeProbe extends AuditSink {
  /** Resolves with the next outcome record written (or the one already written for `of`). */
  next(): Promise<AuditEntry & { type: 'outcome' }>
}

export function outcomeProbe(): OutcomeProbe {
  let waiters: ((entry: AuditEntry & { type: 'outcome' }) => void)[] = []
  return {
    write(_line, record) {
      if (record.type === 'outcome') {
        const now = waiters
        waiters = []
        for (const w of now) w(record as AuditEntry & { type: 'outcome' })
      }
      return true
    },
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
    next: () => new Promise((resolve) => waiters.push(resolve)),
  }
}

/** A few turns of the event loop (I/O phases included), to show that something did NOT happen. */
export async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
