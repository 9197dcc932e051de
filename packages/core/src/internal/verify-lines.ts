import { GENESIS } from './audit-chain.js'
import { canonicalObject } from './canonical-json.js'
import { canonicalLine, nonCanonicalReason } from './canonical-line.js'
import { sha256Hex } from './sha256.js'

/**
 * What broke, as a stable string (the human `reason` says the same with the details):
 * - `not-json`, `not-record`, `no-seq`, `not-utf8`, `line-too-long`: a line that is no record
 * - `duplicate-key`, `not-canonical`: a line that is not byte-identical to its canonical form
 * - `edited`: a record's hash does not match its content
 * - `missing`, `out-of-order`, `broken-link`, `no-genesis`, `start-mismatch`: the chain's links
 * - `torn`: the last line has no final newline (a write cut short)
 * - with checkpoints: `truncated`, `rewritten`, `forged-append`, `bad-signature`, `wrong-key`,
 *   `other-log`, `bad-checkpoint` (see verifyChain)
 */
export type ChainProblem =
  | 'not-json'
  | 'not-record'
  | 'no-seq'
  | 'not-utf8'
  | 'line-too-long'
  | 'duplicate-key'
  | 'not-canonical'
  | 'edited'
  | 'missing'
  | 'out-of-order'
  | 'broken-link'
  | 'no-genesis'
  | 'start-mismatch'
  | 'torn'
  | 'truncated'
  | 'rewritten'
  | 'forged-append'
  | 'bad-signature'
  | 'wrong-key'
  | 'other-log'
  | 'bad-checkpoint'

export interface ChainHead {
  readonly seq: number
  readonly hash: string
}

export interface CheckpointSummary {
  /** Checkpoints that vouched for a record of this log (signature and hash checked). */
  readonly verified: number
  /** The last record a checkpoint vouches for. */
  readonly covered: ChainHead | undefined
  /** Records after `covered` that no checkpoint vouches for yet (the live tail, or appended since). */
  readonly uncovered: number
  /** Whether the last checkpoint closed the log (`reason: "close"`) at its head. */
  readonly closed: boolean
}

export type ChainVerification =
  | {
      readonly ok: true
      readonly count: number
      readonly head: ChainHead | undefined
      /** Checkpoint results, when checkpoints were given. */
      readonly checkpoints?: CheckpointSummary
      /** Bytes of an unfinished last line left unverified (only with `live: true`). */
      readonly pending?: number
    }
  | {
      readonly ok: false
      /** Records verified before the first bad one. */
      readonly count: number
      /** The first bad record's `seq` (the expected seq when the line has none or cannot be parsed). */
      readonly seq: number
      /** 1-based line number in `file` (0 when the problem is a checkpoint's, not a line's). */
      readonly line: number
      readonly reason: string
      readonly code: ChainProblem
      /** The segment file of the bad line (verifyChain). */
      readonly file?: string
    }

export interface ChainFailure {
  readonly seq: number
  readonly reason: string
  readonly code: ChainProblem
}

export interface ChainCheckerOptions {
  /** Require each line to be byte-identical to its canonical serialization (default true). */
  readonly canonical?: boolean
  /** Verify a suffix: the first record must be `start.seq + 1` linked to `start.hash`. */
  readonly start?: ChainHead
}

/**
 * The one per-line check shared by verifyLines (memorySink) and verifyChain (files): seq
 * continuity, `prev` links, every `hash`, and canonical form. Stops being useful after the first
 * failure (the caller stops there).
 */
export class ChainChecker {
  count = 0
  head: ChainHead | undefined
  readonly #canonical: boolean
  readonly #start: ChainHead | undefined

  constructor(options: ChainCheckerOptions = {}) {
    this.#canonical = options.canonical ?? true
    this.#start = options.start
  }

  /** The seq the next record must have. */
  get expected(): number {
    return this.head === undefined ? (this.#start?.seq ?? 0) + 1 : this.head.seq + 1
  }

  /** Checks one stored line (without its newline). */
  line(text: string): ChainFailure | undefined {
    let rec: unknown
    try {
      rec = JSON.parse(text)
    } catch {
      return this.#bad(this.expected, 'not-json', 'line is not JSON')
    }
    return this.record(rec, text)
  }

  /**
   * Checks one parsed record. With `text` (the stored line) and canonical checking on, the line
   * must also be exactly the record's canonical serialization.
   */
  record(rec: unknown, text?: string): ChainFailure | undefined {
    const expected = this.expected
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec))
      return this.#bad(expected, 'not-record', 'line is not a record')
    const r = rec as Record<string, unknown>
    const seq = r.seq
    if (typeof seq !== 'number' || !Number.isInteger(seq))
      return this.#bad(expected, 'no-seq', 'record has no seq')
    let body: string
    if (text !== undefined && this.#canonical) {
      const c = canonicalLine(r)
      if (c.line !== text) {
        const reason = nonCanonicalReason(text, c.line)
        return this.#bad(seq, reason.startsWith('duplicate key') ? 'duplicate-key' : 'not-canonical', reason)
      }
      body = c.body
    } else {
      body = canonicalObject(r, 'hash')
    }
    const hash = `sha256:${sha256Hex(body)}`
    if (r.hash !== hash) return this.#bad(seq, 'edited', 'hash does not match the record (edited)')
    const head = this.head
    if (head === undefined) {
      const start = this.#start
      if (start !== undefined) {
        if (seq !== start.seq + 1)
          return this.#bad(
            seq,
            'start-mismatch',
            `expected seq ${start.seq + 1} after the start, found seq ${seq}`,
          )
        if (r.prev !== start.hash)
          return this.#bad(seq, 'start-mismatch', `seq ${seq} does not link to the start hash ${start.hash}`)
      } else {
        // A chain starts at seq 1 linked to the genesis hash; anything else means the head was removed.
        if (seq !== 1)
          return this.#bad(seq, 'missing', `chain starts at seq ${seq}: seq 1 is missing (removed)`)
        if (r.prev !== GENESIS)
          return this.#bad(seq, 'no-genesis', 'first record does not link to the genesis hash')
      }
    } else {
      if (seq !== expected) {
        return seq > expected
          ? this.#bad(seq, 'missing', `seq ${expected} is missing (removed or reordered)`)
          : this.#bad(
              seq,
              'out-of-order',
              `seq ${seq} out of order (expected ${expected}; inserted or reordered)`,
            )
      }
      if (r.prev !== head.hash)
        return this.#bad(
          seq,
          'broken-link',
          'prev does not link to the previous record (removed, inserted or reordered)',
        )
    }
    this.head = { seq, hash }
    this.count++
    return undefined
  }

  #bad(seq: number, code: ChainProblem, reason: string): ChainFailure {
    return { seq, code, reason }
  }
}

/** Checks seq continuity, `prev` links, every `hash` and canonical form; stops at the first bad record. */
export function verifyLines(lines: readonly string[]): ChainVerification {
  const checker = new ChainChecker()
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]
    if (text === '' && i === lines.length - 1) break
    const bad = checker.line(text)
    if (bad !== undefined) return { ok: false, count: checker.count, line: i + 1, ...bad }
  }
  return { ok: true, count: checker.count, head: checker.head }
}
