import { isDeepStrictEqual } from 'node:util'
import { type ChainVerification, verifyLines } from '../internal/verify-lines.js'
import type { AuditEntry, AuditRecord } from './audit-record.js'
import type { AuditSink } from './audit-sink.js'
import { withOutcome } from './read-audit.js'

/** A deep-partial pattern: every given field must equal (objects match recursively, arrays exactly). */
export type RecordMatch = { readonly [key: string]: unknown }

export interface MemorySink extends AuditSink {
  /**
   * The command and session records, each command joined with its outcome record (`outcome`,
   * `masked`, `recording` filled in once it is stored), as `warden audit replay` reads a log.
   */
  readonly records: readonly AuditRecord[]
  /** Every stored line, parsed back as it is (what a file sink would hold). */
  readonly entries: readonly AuditEntry[]
  readonly lines: readonly string[]
  /** Command records only (not session open/close/refused). */
  commands(): AuditRecord[]
  last(): AuditRecord | undefined
  filter(match: RecordMatch): AuditRecord[]
  find(match: RecordMatch): AuditRecord | undefined
  /** Throws (listing what was recorded) unless a record matches; returns it. */
  expectRecord(match: RecordMatch): AuditRecord
  /** Throws unless no record matches. */
  expectNoRecord(match: RecordMatch): void
  verify(): ChainVerification
  /** Makes every later write fail with `error` (to test fail-closed behaviour). */
  fail(error?: Error): void
  /**
   * Holds storing, like a slow disk: records are still written (and listed), but `stored()` waits
   * until the returned `release()` is called, so what waits on a record (a command, a result, the
   * end of a stream) can be seen waiting. `release(error)` fails what was held with `error`.
   */
  hold(): (error?: Error) => void
  clear(): void
}

/** Keeps audit records in memory, with assertion helpers for tests. */
export function memorySink(): MemorySink {
  const lines: string[] = []
  const entries: AuditEntry[] = []
  const records: AuditRecord[] = []
  // Each command record waiting for its outcome, and where it sits in `records` (as of `cleared`).
  const open = new Map<
    string,
    { readonly record: AuditRecord; readonly at: number; readonly cleared: number }
  >()
  let cleared = 0
  let failure: Error | undefined
  let held: Promise<void> | undefined
  const filter = (match: RecordMatch) => records.filter((r) => matches(r, match))
  return {
    records,
    entries,
    lines,
    write(line: string): boolean {
      if (failure) throw failure
      lines.push(line)
      const entry = JSON.parse(line) as AuditEntry
      entries.push(entry)
      if (entry.type === 'outcome') {
        const waiting = open.get(entry.of)
        if (waiting !== undefined) {
          open.delete(entry.of)
          // A command decided before clear() that ends after it is listed again, complete.
          if (waiting.cleared === cleared) records[waiting.at] = withOutcome(waiting.record, entry)
          else records.push(withOutcome(waiting.record, entry))
        }
      } else if (entry.type !== 'repair') {
        if (entry.type === 'command' && entry.outcome === undefined)
          open.set(entry.id, { record: entry, at: records.length, cleared })
        records.push(entry)
      }
      return true
    },
    // Stored as soon as written.
    stored: () => (failure ? Promise.reject(failure) : held),
    flush: () => (failure ? Promise.reject(failure) : Promise.resolve()),
    close: () => Promise.resolve(),
    failure: () => failure,
    commands: () => records.filter((r) => r.type === 'command'),
    last: () => records[records.length - 1],
    filter,
    find: (match) => records.find((r) => matches(r, match)),
    expectRecord(match) {
      const found = records.find((r) => matches(r, match))
      if (found) return found
      throw new Error(
        `no audit record matches ${JSON.stringify(match)}; recorded:\n${records.map((r) => `  ${summary(r)}`).join('\n') || '  (none)'}`,
      )
    },
    expectNoRecord(match) {
      const found = records.find((r) => matches(r, match))
      if (found)
        throw new Error(
          `expected no audit record matching ${JSON.stringify(match)}, found: ${summary(found)}`,
        )
    },
    verify: () => verifyLines(lines),
    fail(error = new Error('memorySink: failing on purpose')) {
      failure = error
    },
    hold() {
      let release: (error?: Error) => void = () => {}
      const wait = new Promise<void>((resolve, reject) => {
        release = (error) => {
          if (held === wait) held = undefined
          if (error === undefined) resolve()
          else {
            failure = error
            reject(error)
          }
        }
      })
      wait.catch(() => {}) // rejected only for those awaiting it
      held = wait
      return release
    },
    clear() {
      lines.length = 0
      entries.length = 0
      records.length = 0
      cleared++
    },
  }
}

function matches(value: unknown, pattern: unknown): boolean {
  if (pattern !== null && typeof pattern === 'object' && !Array.isArray(pattern)) {
    if (value === null || typeof value !== 'object') return false
    for (const [k, p] of Object.entries(pattern)) {
      if (!matches((value as Record<string, unknown>)[k], p)) return false
    }
    return true
  }
  return isDeepStrictEqual(value, pattern)
}

function summary(r: AuditRecord): string {
  return [
    r.seq,
    r.type,
    r.principal?.id,
    r.resource ? `${r.resource.kind}:${r.resource.name}` : '',
    r.action ?? '',
    r.decision?.effect ?? '',
    r.outcome?.status ?? '',
    r.command ?? '',
  ]
    .filter((x) => x !== '' && x !== undefined)
    .join(' ')
}
