import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { WardenError } from '@warden/policy'
import type { AuditEntry, AuditRecord, OutcomeRecord } from './audit-record.js'

/**
 * Joins a log's lines into records as a reader wants them: a command with its outcome record's
 * `outcome`, `masked` and `recording` filled in, yielded once it ended (in the order commands
 * ended, as they happened); session records as they come. Commands that never got an outcome (the
 * process ended while they ran) come last, without `outcome`. Repair records are left out.
 * Holds only the commands still running, so a log of any size streams.
 */
export async function* joinOutcomes(
  entries: AsyncIterable<AuditEntry> | Iterable<AuditEntry>,
): AsyncGenerator<AuditRecord> {
  const running = new Map<string, AuditRecord>()
  for await (const entry of entries) {
    if (entry.type === 'outcome') {
      const command = running.get(entry.of)
      if (command === undefined) continue
      running.delete(entry.of)
      yield withOutcome(command, entry)
    } else if (entry.type === 'repair') {
    } else if (entry.type === 'command' && entry.outcome === undefined) {
      running.set(entry.id, entry)
    } else {
      yield entry
    }
  }
  yield* running.values()
}

/** The records of a `jsonlSink` log (its segments in order, see `auditSegments`), joined as `joinOutcomes` does. */
export function readAudit(files: string | readonly string[]): AsyncGenerator<AuditRecord> {
  return joinOutcomes(entriesOf(typeof files === 'string' ? [files] : files))
}

async function* entriesOf(files: readonly string[]): AsyncGenerator<AuditEntry> {
  for (const file of files) {
    const lines = createInterface({
      input: createReadStream(file, 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    })
    let n = 0
    for await (const text of lines) {
      n++
      if (text === '') continue
      let entry: AuditEntry
      try {
        entry = JSON.parse(text) as AuditEntry
      } catch {
        throw new WardenError('ERR_WARDEN_AUDIT', `${file}:${n}: not a JSON audit record`)
      }
      yield entry
    }
  }
}

export function withOutcome(command: AuditRecord, outcome: OutcomeRecord): AuditRecord {
  const out: Record<string, unknown> = { ...command, outcome: outcome.outcome }
  if (outcome.masked !== undefined) out.masked = outcome.masked
  if (outcome.recording !== undefined) out.recording = outcome.recording
  return out as unknown as AuditRecord
}
