import { WardenError } from '@warden/policy'
import type { AuditRecord } from '../audit/audit-record.js'
import { canonicalJson, quoteKey, sortedKeys } from './canonical-json.js'
import { sha256Hex } from './sha256.js'

export const GENESIS = `sha256:${'0'.repeat(64)}`

/** A record as the pipeline builds it: chain fields are filled per sink. */
export type DraftRecord = { -readonly [K in keyof AuditRecord]: AuditRecord[K] }

/** sha256 over the canonical JSON of `record` without `hash`; returns `{hash, line}` (line includes hash). */
export function sealRecord(record: Record<string, unknown>): { hash: string; line: string } {
  const keys = sortedKeys(record)
  let before = '{'
  let after = ''
  let past = false
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    if (key === 'hash') continue
    const v = record[key]
    if (v === undefined || typeof v === 'function') continue
    const part = quoteKey(key) + canonicalJson(v)
    if (!past && key > 'hash') past = true
    if (past) after += `,${part}`
    else before += before.length === 1 ? part : `,${part}`
  }
  // body = the record without hash; the line inserts hash at its sorted place. Hashing flattens
  // body, so the two slices below are cheap views into one flat string.
  const empty = before.length === 1
  const body = empty ? `{${after.slice(1)}}` : `${before + after}}`
  const hash = `sha256:${sha256Hex(body)}`
  const at = empty ? 1 : before.length
  const line = `${body.slice(0, at)}${empty ? '' : ','}"hash":"${hash}"${empty && body.length > 2 ? ',' : ''}${body.slice(at)}`
  return { hash, line }
}

interface Link {
  readonly sink: import('../audit/audit-sink.js').AuditSink
  seq: number
  prev: string
  error: Error | undefined
}

export interface AuditChainOptions {
  readonly failOpen: boolean
}

/**
 * Core's wrapper around the sinks: numbers, chains and seals each record per sink, applies
 * backpressure (a full sink makes the command wait for its flush) and turns a failed sink into
 * ERR_WARDEN_AUDIT (fail closed) unless fail-open was chosen.
 */
export class AuditChain {
  readonly #links: Link[]
  readonly #failOpen: boolean
  #warned = false
  /** Records appended since the last flush started (so beforeExit flushes only when there is news). */
  #dirty = false

  constructor(sinks: readonly import('../audit/audit-sink.js').AuditSink[], options: AuditChainOptions) {
    this.#failOpen = options.failOpen
    this.#links = sinks.map((sink) => {
      const head = sink.head?.()
      return { sink, seq: head?.seq ?? 0, prev: head?.hash ?? GENESIS, error: undefined }
    })
  }

  get failOpen(): boolean {
    return this.#failOpen
  }

  /** Throws ERR_WARDEN_AUDIT when a sink has failed (and fail-open is off). Called before a command runs. */
  check(): void {
    for (let i = 0; i < this.#links.length; i++) {
      const link = this.#links[i]
      const err = link.error ?? link.sink.failure?.()
      if (err !== undefined) this.#failed(link, err)
    }
  }

  /**
   * Appends one record to every sink. Returns a promise only when a sink is full (the caller awaits
   * it: backpressure) — undefined on the common path, so nothing is allocated for it.
   */
  append(record: DraftRecord): Promise<void> | undefined {
    if (this.#failOpen) record.auditFailure = 'fail-open'
    this.#dirty = true
    let wait: Promise<void>[] | undefined
    let failed: Link | undefined
    const n = this.#links.length
    for (let i = 0; i < n; i++) {
      const link = this.#links[i]
      if (link.error !== undefined && this.#failOpen) continue
      // One sink: chain fields go on the record itself; several: each sink gets its own copy.
      const r: DraftRecord = n === 1 ? record : { ...record }
      r.seq = link.seq + 1
      r.prev = link.prev
      r.hash = ''
      const { hash, line } = sealRecord(r as Record<string, unknown>)
      r.hash = hash
      let accepted: boolean
      try {
        accepted = link.sink.write(line, r as AuditRecord)
      } catch (err) {
        link.error ??= err instanceof Error ? err : new Error(String(err))
        failed = link
        continue
      }
      link.seq = r.seq
      link.prev = hash
      if (!accepted) {
        wait ??= []
        wait.push(this.#flushLink(link))
      }
    }
    if (failed !== undefined) this.#failed(failed, failed.error)
    if (wait === undefined) return undefined
    return Promise.all(wait).then(() => undefined)
  }

  /** Whether anything was appended since the last flush began. */
  get dirty(): boolean {
    return this.#dirty
  }

  async flush(): Promise<void> {
    this.#dirty = false
    await Promise.all(this.#links.map((link) => this.#flushLink(link)))
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled(this.#links.map((link) => link.sink.close()))
    for (let i = 0; i < results.length; i++) {
      const r = results[i]
      if (r.status === 'rejected') this.#failed(this.#links[i], r.reason)
    }
  }

  async #flushLink(link: Link): Promise<void> {
    try {
      await link.sink.flush()
    } catch (err) {
      this.#failed(link, err)
    }
  }

  #failed(link: Link, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err))
    link.error ??= error
    if (this.#failOpen) {
      if (!this.#warned) {
        this.#warned = true
        process.emitWarning(
          `Warden audit sink failed (${error.message}); continuing because auditFailure is 'fail-open'`,
          {
            code: 'WARDEN_AUDIT_FAIL_OPEN',
          },
        )
      }
      return
    }
    throw new WardenError(
      'ERR_WARDEN_AUDIT',
      `audit sink failed: ${error.message}; commands are refused until it is fixed (or set auditFailure: 'fail-open')`,
      { cause: error },
    )
  }
}
