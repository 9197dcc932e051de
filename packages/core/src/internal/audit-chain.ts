import { WardenError } from '@warden/policy'
import type { AuditEntry, AuditRecord, OutcomeRecord, RepairRecord } from '../audit/audit-record.js'
import type { AuditSink } from '../audit/audit-sink.js'
import { canonicalJson, quoteKey, sortedKeys } from './canonical-json.js'
import { sha256Hex } from './sha256.js'

export const GENESIS = `sha256:${'0'.repeat(64)}`

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
/** A record as the pipeline builds it: chain fields are filled per sink. */
export type DraftRecord = Mutable<AuditRecord>
export type DraftOutcome = Mutable<OutcomeRecord>
export type DraftEntry = DraftRecord | DraftOutcome | Mutable<RepairRecord>

// Records the pipeline builds have fixed shapes: every key present, in canonical order, and
// `decision`/`outcome` of fixed shapes too. They are marked here and serialized without listing or
// sorting keys (the output is byte-identical to the generic path; verifyChain proves it).
interface Shape {
  readonly keys: readonly string[]
  readonly quoted: readonly string[]
  readonly hashAt: number
}
function shape(keys: readonly string[]): Shape {
  return { keys, quoted: keys.map((k) => `"${k}":`), hashAt: keys.indexOf('hash') }
}
const COMMAND = shape([
  'action',
  'approval',
  'auditFailure',
  'command',
  'decision',
  'facts',
  'hash',
  'id',
  'lease',
  'masked',
  'outcome',
  'prev',
  'principal',
  'recording',
  'request',
  'resource',
  'seq',
  'session',
  'time',
  'type',
  'v',
])
const OUTCOME = shape([
  'auditFailure',
  'hash',
  'id',
  'masked',
  'of',
  'outcome',
  'prev',
  'recording',
  'seq',
  'session',
  'time',
  'type',
  'v',
])
const DECISION_KEYS = ['effect', 'reason', 'revision', 'rule', 'shadow'] as const
const OUTCOME_KEYS = [
  'bytes',
  'cancelled',
  'code',
  'error',
  'exit',
  'ms',
  'rows',
  'rule',
  'signal',
  'status',
] as const
const shaped = new WeakMap<object, Shape>()

/**
 * Marks a command record built with exactly the keys of COMMAND, in that order, with `decision`
 * and `outcome` holding only DECISION_KEYS/OUTCOME_KEYS (pipeline-internal).
 */
export function commandShaped<T extends object>(record: T): T {
  shaped.set(record, COMMAND)
  return record
}

/** Marks an outcome record built with exactly the keys of OUTCOME, in that order (pipeline-internal). */
export function outcomeShaped<T extends object>(record: T): T {
  shaped.set(record, OUTCOME)
  return record
}

function member(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : canonicalJson(value)
}

/** A fixed-shape object: its keys in canonical order, undefined members left out. */
function fixedObject(value: Record<string, unknown>, keys: readonly string[]): string {
  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    const v = value[keys[i]]
    if (v === undefined) continue
    out += `${out.length === 1 ? '' : ','}${quoteKey(keys[i])}${member(v)}`
  }
  return `${out}}`
}

// A rule's decision repeats command after command (same effect, reason, revision): its JSON is
// kept per rule name and reused while those match (strings compare by identity first: cheap).
const decisions = new Map<unknown, { effect: unknown; reason: unknown; revision: unknown; json: string }>()

function decisionJson(v: Record<string, unknown>): string {
  if (v.shadow !== undefined) return fixedObject(v, DECISION_KEYS)
  const cached = decisions.get(v.rule)
  if (
    cached !== undefined &&
    cached.effect === v.effect &&
    cached.reason === v.reason &&
    cached.revision === v.revision
  )
    return cached.json
  const json = fixedObject(v, DECISION_KEYS)
  if (typeof v.rule === 'string' && (cached !== undefined || decisions.size < 4096))
    decisions.set(v.rule, { effect: v.effect, reason: v.reason, revision: v.revision, json })
  return json
}

/** `masked`: entries of {column, count, strategy} serialized directly (new per command, so never cached). */
function maskedJson(value: unknown): string {
  if (!Array.isArray(value)) return canonicalJson(value)
  let out = '['
  for (let i = 0; i < value.length; i++) {
    const e = value[i] as { column?: unknown; count?: unknown; strategy?: unknown } | null | undefined
    let keys = 0
    if (typeof e === 'object' && e !== null) for (const _ in e) keys++
    const json =
      keys === 3 &&
      Object.hasOwn(e as object, 'count') &&
      typeof e?.column === 'string' &&
      typeof e.count === 'number' &&
      Number.isFinite(e.count) &&
      typeof e.strategy === 'string'
        ? `{"column":${JSON.stringify(e.column)},"count":${JSON.stringify(e.count)},"strategy":${JSON.stringify(e.strategy)}}`
        : e === undefined
          ? 'null'
          : canonicalJson(e)
    out += i === 0 ? json : `,${json}`
  }
  return `${out}]`
}

function sealShaped(record: Record<string, unknown>, shape: Shape): { hash: string; line: string } {
  let body = '{'
  let at = 0
  const keys = shape.keys
  for (let i = 0; i < keys.length; i++) {
    if (i === shape.hashAt) {
      at = body.length
      continue
    }
    const key = keys[i]
    const v = record[key]
    if (v === undefined) continue
    const json =
      key === 'decision'
        ? decisionJson(v as Record<string, unknown>)
        : key === 'outcome'
          ? fixedObject(v as Record<string, unknown>, OUTCOME_KEYS)
          : key === 'masked'
            ? maskedJson(v)
            : member(v)
    body += `${body.length === 1 ? '' : ','}${shape.quoted[i]}${json}`
  }
  body += '}'
  const hash = `sha256:${sha256Hex(body)}`
  // Insert `hash` at its sorted place: after a member when one precedes it (a command record's
  // `decision`), else first (an outcome record without `auditFailure`), before the next member.
  const line =
    at > 1
      ? `${body.slice(0, at)},"hash":"${hash}"${body.slice(at)}`
      : `{"hash":"${hash}"${body.length > 2 ? ',' : ''}${body.slice(1)}`
  return { hash, line }
}

/** sha256 over the canonical JSON of `record` without `hash`; returns `{hash, line}` (line includes hash). */
export function sealRecord(record: Record<string, unknown>): { hash: string; line: string } {
  const fixed = shaped.get(record)
  if (fixed !== undefined) return sealShaped(record, fixed)
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
  readonly sink: AuditSink
  seq: number
  prev: string
  error: Error | undefined
}

export interface AuditChainOptions {
  readonly failOpen: boolean
}

/**
 * Core's wrapper around the sinks: numbers, chains and seals each record per sink, tells the
 * pipeline when a record is stored (the command waits for that: the record comes first), and
 * turns a failed sink into ERR_WARDEN_AUDIT (fail closed) unless fail-open was chosen.
 */
export class AuditChain {
  readonly #links: Link[]
  readonly #failOpen: boolean
  #warned = false
  /** Records appended since the last flush started (so beforeExit flushes only when there is news). */
  #dirty = false

  constructor(sinks: readonly AuditSink[], options: AuditChainOptions) {
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
   * Appends one record to every sink. Returns a promise that resolves once every sink has stored
   * it (rejecting with ERR_WARDEN_AUDIT if one could not), or undefined when all already have.
   * Throws at once when a sink refuses the write.
   */
  append(record: DraftEntry): Promise<void> | undefined {
    this.#write(record)
    const n = this.#links.length
    if (n === 1) return this.#stored(this.#links[0])
    let wait: Promise<void>[] | undefined
    for (let i = 0; i < n; i++) {
      const p = this.#stored(this.#links[i])
      if (p === undefined) continue
      wait ??= []
      wait.push(p)
    }
    return wait === undefined ? undefined : Promise.all(wait).then(() => undefined)
  }

  /** Appends one record and stores it before returning (audited checks, which answer synchronously). */
  appendSync(record: DraftEntry): void {
    this.#write(record)
    this.flushSync()
  }

  /** Stores what every sink holds now, synchronously where the sink can (signal handlers). */
  flushSync(): void {
    for (const link of this.#links) {
      if (link.error !== undefined) continue
      try {
        link.sink.flushSync?.()
      } catch (err) {
        this.#failed(link, err)
      }
    }
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

  #write(record: DraftEntry): void {
    if (this.#failOpen) (record as { auditFailure?: 'fail-open' }).auditFailure = 'fail-open'
    this.#dirty = true
    let failed: Link | undefined
    const n = this.#links.length
    for (let i = 0; i < n; i++) {
      const link = this.#links[i]
      if (link.error !== undefined && this.#failOpen) continue
      // One sink: chain fields go on the record itself; several: each sink gets its own copy.
      const fixed = shaped.get(record)
      const r: DraftEntry = n === 1 ? record : { ...record }
      if (n !== 1 && fixed !== undefined) shaped.set(r, fixed)
      r.seq = link.seq + 1
      r.prev = link.prev
      r.hash = ''
      const { hash, line } = sealRecord(r as Record<string, unknown>)
      r.hash = hash
      try {
        link.sink.write(line, r as AuditEntry)
      } catch (err) {
        link.error ??= err instanceof Error ? err : new Error(String(err))
        failed = link
        continue
      }
      link.seq = r.seq
      link.prev = hash
    }
    if (failed !== undefined) this.#failed(failed, failed.error)
  }

  #stored(link: Link): Promise<void> | undefined {
    if (link.error !== undefined) return undefined
    let p: Promise<void> | undefined
    try {
      p = link.sink.stored !== undefined ? link.sink.stored() : link.sink.flush()
    } catch (err) {
      this.#failed(link, err)
      return undefined
    }
    if (p === undefined) return undefined
    return p.then(undefined, (err: unknown) => this.#failed(link, err))
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
