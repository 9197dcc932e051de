import { isUtf8 } from 'node:buffer'
import { WardenTypeError } from '@warden/policy'
import { CheckpointCheck } from '../internal/checkpoint-check.js'
import { readLines } from '../internal/line-reader.js'
import {
  ChainChecker,
  type ChainFailure,
  type ChainHead,
  type ChainProblem,
  type ChainVerification,
  type CheckpointSummary,
} from '../internal/verify-lines.js'
import { type Checkpoint, checkpointPublicKey, type KeyInput } from './checkpoint.js'
import { readCheckpoints } from './checkpoint-stores.js'

export type { ChainHead, ChainProblem, ChainVerification, CheckpointSummary }

export interface VerifyChainOptions {
  /** Verify a suffix whose earlier segments are archived: the first record is `start.seq + 1`, linked to `start.hash`. */
  readonly start?: ChainHead
  /** Signed checkpoints of this log (or the path of a checkpoints file); needs `publicKey`. */
  readonly checkpoints?: readonly Checkpoint[] | string
  /** The Ed25519 public key (SPKI PEM or KeyObject) the checkpoints must be signed with. */
  readonly publicKey?: KeyInput
  /** The chain id (hash of its seq-1 record) to pick checkpoints by, when a store holds several logs'. */
  readonly log?: string
  /**
   * The log is being written: an unfinished last line (no newline yet) is left unverified and
   * reported as `pending` bytes. Otherwise a missing final newline fails with `torn`.
   */
  readonly live?: boolean
  /**
   * `jsonl` (default): each line is a record, and must be its canonical serialization.
   * `pino`: each line is a pino log line; those with an `audit` object carry a record (the hash and
   * links are checked on the parsed record; canonical form does not apply: pino wrote the line).
   * Lines without `audit` (other logs of the same logger) are skipped.
   */
  readonly format?: 'jsonl' | 'pino'
  /** A longer line fails with `line-too-long` (default 64 MiB): memory stays bounded. */
  readonly maxLineBytes?: number
}

/**
 * Verifies an audit log, streaming (constant memory: a multi-GB log verifies): every record's hash,
 * that each line is its canonical form, the `prev` links and `seq` continuity, across the segment
 * files given in order (oldest first; `auditSegments(path)` lists a rotated log's). Returns the
 * first bad record: seq, file and line, a stable `code` and a `reason`.
 *
 * The chain alone proves integrity relative to its head. With `checkpoints` and `publicKey` it also
 * detects a log cut short, rewritten and re-chained, or appended to after its writer closed it, and
 * reports how many trailing records no checkpoint covers yet (docs/audit.md).
 * @example
 * const result = await verifyChain(auditSegments('audit.jsonl'), {
 *   checkpoints: '/mnt/worm/audit.checkpoints', publicKey: readFileSync('audit.pub', 'utf8'),
 * })
 * if (!result.ok) console.error(`audit log ${result.code} at seq ${result.seq}: ${result.reason}`)
 */
export async function verifyChain(
  fileOrFiles: string | readonly string[],
  options: VerifyChainOptions = {},
): Promise<ChainVerification> {
  const files = typeof fileOrFiles === 'string' ? [fileOrFiles] : [...fileOrFiles]
  if (files.length === 0) throw new WardenTypeError('verifyChain: give at least one file')
  const pino = options.format === 'pino'
  if (options.format !== undefined && options.format !== 'jsonl' && !pino)
    throw new WardenTypeError(`verifyChain: format must be 'jsonl' or 'pino', got ${String(options.format)}`)
  const start = options.start
  if (
    start !== undefined &&
    (!Number.isInteger(start.seq) || start.seq < 0 || typeof start.hash !== 'string')
  )
    throw new WardenTypeError('verifyChain: start must be {seq, hash}')
  const checker = new ChainChecker({ canonical: !pino, start })
  const cp = await checkpointCheck(options)

  let file = files[0]
  let line = 0
  const fail = (bad: ChainFailure, at = line): ChainVerification => ({
    ok: false,
    count: checker.count,
    line: at,
    file,
    ...bad,
  })
  if (cp !== undefined) {
    const bad = cp.validate() ?? (start !== undefined ? (cp.select(undefined) ?? cp.start(start)) : undefined)
    if (bad !== undefined) return fail(bad, 0)
  }

  let failure: ChainVerification | undefined
  let pending = 0
  const onLine = (buf: Buffer, from: number, to: number, n: number): boolean => {
    line = n
    if (!isUtf8(buf.subarray(from, to))) {
      failure = fail({ seq: checker.expected, code: 'not-utf8', reason: 'line is not valid UTF-8' })
      return false
    }
    const text = buf.toString('utf8', from, to)
    let bad: ChainFailure | undefined
    if (pino) {
      let entry: { audit?: unknown } | null
      try {
        entry = JSON.parse(text) as { audit?: unknown } | null
      } catch {
        failure = fail({ seq: checker.expected, code: 'not-json', reason: 'line is not JSON' })
        return false
      }
      if (entry === null || typeof entry !== 'object' || entry.audit === undefined) return true
      bad = checker.record(entry.audit)
    } else {
      bad = checker.line(text)
    }
    if (bad === undefined && cp !== undefined) {
      const head = checker.head as ChainHead
      if (start === undefined && head.seq === 1) bad = cp.select(head.hash)
      bad ??= cp.record(head.seq, head.hash)
    }
    if (bad === undefined) return true
    failure = fail(bad)
    return false
  }

  for (let i = 0; i < files.length; i++) {
    file = files[i]
    line = 0
    const read = await readLines(file, onLine, options.maxLineBytes)
    if (failure !== undefined) return failure
    if (read.tooLong)
      return fail(
        { seq: checker.expected, code: 'line-too-long', reason: 'line is longer than maxLineBytes' },
        read.lines + 1,
      )
    if (read.tail > 0) {
      const last = i === files.length - 1
      if (!(last && options.live === true))
        return fail(
          {
            seq: checker.expected,
            code: 'torn',
            reason: `the last line (${read.tail} bytes) has no final newline: the file is torn (a write cut short; the sink repairs it on open)${last ? ', or still being written (verify with live: true / --live)' : ''}`,
          },
          read.lines + 1,
        )
      pending = read.tail
    }
    line = read.lines
  }

  const head = checker.head ?? (start !== undefined && start.seq > 0 ? start : undefined)
  let summary: CheckpointSummary | undefined
  if (cp !== undefined) {
    const bad = cp.select(undefined) ?? cp.end(head)
    if (bad !== undefined) return fail(bad, line + 1)
    summary = cp.summary(head)
  }
  return {
    ok: true,
    count: checker.count,
    head,
    ...(summary !== undefined ? { checkpoints: summary } : {}),
    ...(pending > 0 ? { pending } : {}),
  }
}

async function checkpointCheck(options: VerifyChainOptions): Promise<CheckpointCheck | undefined> {
  if (options.checkpoints === undefined) {
    if (options.publicKey !== undefined)
      throw new WardenTypeError('verifyChain: publicKey was given without checkpoints')
    return undefined
  }
  if (options.publicKey === undefined)
    throw new WardenTypeError(
      'verifyChain: checkpoints need the publicKey they were signed with (an unchecked checkpoint proves nothing)',
    )
  const key = checkpointPublicKey(options.publicKey)
  const list =
    typeof options.checkpoints === 'string' ? await readCheckpoints(options.checkpoints) : options.checkpoints
  return new CheckpointCheck(list, key, options.log)
}

/**
 * The chain id of a log (the hash of its seq-1 record), read from the first line of its first
 * segment; undefined when that file is empty or does not start at seq 1 (earlier segments
 * archived). A sink passes it to `checkpointer.opened()` when it reopens the log.
 */
export async function auditChainId(fileOrFiles: string | readonly string[]): Promise<string | undefined> {
  const first = typeof fileOrFiles === 'string' ? fileOrFiles : fileOrFiles[0]
  if (first === undefined) return undefined
  let id: string | undefined
  try {
    await readLines(first, (buf, from, to) => {
      try {
        const rec = JSON.parse(buf.toString('utf8', from, to)) as { seq?: unknown; hash?: unknown }
        if (rec?.seq === 1 && typeof rec.hash === 'string') id = rec.hash
      } catch {}
      return false
    })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return id
}
