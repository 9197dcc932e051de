import type { KeyObject } from 'node:crypto'
import { type Checkpoint, checkpointKeyId, checkpointSignatureValid } from '../audit/checkpoint.js'
import type { ChainFailure, ChainHead, CheckpointSummary } from './verify-lines.js'

const HASH = /^sha256:[0-9a-f]{64}$/
const REASONS = new Set(['interval', 'count', 'open', 'close'])

function describe(c: Checkpoint): string {
  return `checkpoint "${c.reason}" of ${c.time} at seq ${c.seq}`
}

/**
 * Holds a log's checkpoints against its records as verifyChain streams them: each checkpoint's
 * signature, the hash of the record at its seq (rewritten or re-chained logs), a head short of a
 * checkpoint (truncation), and records after a `close` that no `open` at the same seq vouches for
 * (forged appends). The rules are in docs/audit.md.
 */
export class CheckpointCheck {
  readonly #all: readonly Checkpoint[]
  readonly #key: KeyObject
  readonly #kid: string
  readonly #log: string | undefined
  #mine: Checkpoint[] | undefined
  #next = 0
  #verified = 0
  #covered: ChainHead | undefined
  /** Seq of a `close` not followed by an `open` at the same seq. */
  #closedAt: number | undefined
  #closeOf: Checkpoint | undefined
  readonly #signed = new WeakSet<Checkpoint>()

  constructor(checkpoints: readonly Checkpoint[], publicKey: KeyObject, log: string | undefined) {
    this.#all = checkpoints
    this.#key = publicKey
    this.#kid = checkpointKeyId(publicKey)
    this.#log = log
  }

  /** Shape checks on every checkpoint given. */
  validate(): ChainFailure | undefined {
    for (let i = 0; i < this.#all.length; i++) {
      const c = this.#all[i]
      const ok =
        c !== null &&
        typeof c === 'object' &&
        c.v === 1 &&
        c.type === 'checkpoint' &&
        typeof c.log === 'string' &&
        Number.isInteger(c.seq) &&
        c.seq > 0 &&
        typeof c.hash === 'string' &&
        HASH.test(c.hash) &&
        typeof c.time === 'string' &&
        REASONS.has(c.reason) &&
        typeof c.kid === 'string' &&
        typeof c.sig === 'string'
      if (!ok)
        return {
          seq: 0,
          code: 'bad-checkpoint',
          reason: `checkpoint ${i + 1} is not a well-formed checkpoint`,
        }
    }
    // When it is clear already which log they are for, check signatures before reading the log.
    const logs = new Set(this.#all.map((c) => c.log))
    const id = this.#log ?? (logs.size === 1 ? this.#all[0].log : undefined)
    return id === undefined ? undefined : this.#signatures(this.#all.filter((c) => c.log === id))
  }

  #signatures(mine: readonly Checkpoint[]): ChainFailure | undefined {
    for (const c of mine) {
      if (this.#signed.has(c)) continue
      if (checkpointSignatureValid(c, this.#key)) {
        this.#signed.add(c)
        continue
      }
      if (c.kid !== this.#kid)
        return {
          seq: c.seq,
          code: 'wrong-key',
          reason: `${describe(c)} is signed by key ${c.kid}, not by the public key given (${this.#kid}): wrong key, or a forged checkpoint`,
        }
      return {
        seq: c.seq,
        code: 'bad-signature',
        reason: `${describe(c)} has a bad signature: the checkpoint was forged or altered`,
      }
    }
    return undefined
  }

  /**
   * Picks this log's checkpoints (by `log`: the expected id given, else the hash of the seq-1 record
   * when the log starts there, else the one log id the checkpoints name) and checks their signatures.
   * `first` is the seq-1 hash, or undefined when verifying a suffix or an empty log.
   */
  select(first: string | undefined): ChainFailure | undefined {
    if (this.#mine !== undefined) return undefined
    let id = this.#log ?? first
    const logs = new Set(this.#all.map((c) => c.log))
    if (id === undefined) {
      if (logs.size > 1)
        return {
          seq: 0,
          code: 'bad-checkpoint',
          reason: `the checkpoints name ${logs.size} logs: say which one this is (the log option, --log)`,
        }
      id = logs.values().next().value
    }
    if (first !== undefined && this.#log !== undefined && first !== this.#log)
      return {
        seq: 1,
        code: 'other-log',
        reason: `seq 1 is not the first record of log ${this.#log}: the log was rewritten from its first record`,
      }
    const mine = this.#all.filter((c) => c.log === id)
    if (mine.length === 0 && logs.size === 1 && first !== undefined)
      return {
        seq: 1,
        code: 'other-log',
        reason: `no checkpoint is for this log: its seq-1 record is not the one the checkpoints (log ${[...logs][0]}) vouch for; the log was rewritten from its first record, or these are another log's checkpoints`,
      }
    const bad = this.#signatures(mine)
    if (bad !== undefined) return bad
    this.#mine = mine.sort((a, b) => a.seq - b.seq)
    return undefined
  }

  /** Before the first record of a suffix: checkpoints at or before the start. */
  start(start: ChainHead): ChainFailure | undefined {
    const mine = this.#mine ?? []
    while (this.#next < mine.length && mine[this.#next].seq <= start.seq) {
      const c = mine[this.#next++]
      if (c.seq === start.seq) {
        const bad = this.#at(c, start.hash)
        if (bad !== undefined) return bad
      }
    }
    return undefined
  }

  /** After record `seq` verified in the chain, with its hash. */
  record(seq: number, hash: string): ChainFailure | undefined {
    if (this.#closedAt !== undefined && seq > this.#closedAt) {
      const c = this.#closeOf as Checkpoint
      return {
        seq,
        code: 'forged-append',
        reason: `seq ${seq} was appended after the log was closed at seq ${c.seq} (${describe(c)}), and no "open" checkpoint at seq ${c.seq} vouches for a writer reopening it: forged append`,
      }
    }
    const mine = this.#mine ?? []
    let sawOpen = false
    let close: Checkpoint | undefined
    while (this.#next < mine.length && mine[this.#next].seq === seq) {
      const c = mine[this.#next++]
      const bad = this.#at(c, hash)
      if (bad !== undefined) return bad
      if (c.reason === 'open') sawOpen = true
      if (c.reason === 'close') close = c
    }
    if (close !== undefined && !sawOpen) {
      this.#closedAt = seq
      this.#closeOf = close
    } else if (sawOpen) {
      this.#closedAt = undefined
    }
    return undefined
  }

  /** After the last record: checkpoints beyond the head mean records were cut off. */
  end(head: ChainHead | undefined): ChainFailure | undefined {
    const mine = this.#mine ?? []
    if (this.#next < mine.length) {
      const c = mine[mine.length - 1]
      const at = head?.seq ?? 0
      return {
        seq: at + 1,
        code: 'truncated',
        reason: `the log ends at seq ${at}, but ${describe(c)} vouches for seq ${c.seq}: records ${at + 1}..${c.seq} were removed (truncated)`,
      }
    }
    return undefined
  }

  summary(head: ChainHead | undefined): CheckpointSummary {
    const covered = this.#covered
    return {
      verified: this.#verified,
      covered,
      uncovered: (head?.seq ?? 0) - (covered?.seq ?? 0),
      closed: this.#closedAt !== undefined && this.#closedAt === head?.seq,
    }
  }

  #at(c: Checkpoint, hash: string): ChainFailure | undefined {
    if (c.hash !== hash)
      return {
        seq: c.seq,
        code: 'rewritten',
        reason: `seq ${c.seq} is not the record ${describe(c)} vouches for: the log was rewritten (records edited or removed, then re-chained)`,
      }
    this.#verified++
    this.#covered = { seq: c.seq, hash }
    return undefined
  }
}
