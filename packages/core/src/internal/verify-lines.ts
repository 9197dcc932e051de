import { GENESIS } from './audit-chain.js'
import { canonicalObject } from './canonical-json.js'
import { sha256Hex } from './sha256.js'

export type ChainVerification =
  | {
      readonly ok: true
      readonly count: number
      readonly head: { readonly seq: number; readonly hash: string } | undefined
    }
  | {
      readonly ok: false
      /** Records verified before the first bad one. */
      readonly count: number
      /** The first bad record's `seq` (the expected seq when the line has none or cannot be parsed). */
      readonly seq: number
      /** 1-based line number in the file. */
      readonly line: number
      readonly reason: string
    }

/** Checks seq continuity, `prev` links and every `hash`; stops at the first bad record. */
export function verifyLines(lines: readonly string[]): ChainVerification {
  let prevHash: string | undefined
  let prevSeq: number | undefined
  let count = 0
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]
    if (text === '' && i === lines.length - 1) break
    const expected = prevSeq === undefined ? 1 : prevSeq + 1
    const bad = (seq: number, reason: string): ChainVerification => ({
      ok: false,
      count,
      seq,
      line: i + 1,
      reason,
    })
    let rec: Record<string, unknown>
    try {
      rec = JSON.parse(text) as Record<string, unknown>
    } catch {
      return bad(expected, 'line is not JSON')
    }
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec))
      return bad(expected, 'line is not a record')
    const seq = rec.seq
    if (typeof seq !== 'number' || !Number.isInteger(seq)) return bad(expected, 'record has no seq')
    const hash = `sha256:${sha256Hex(canonicalObject(rec, 'hash'))}`
    if (rec.hash !== hash) return bad(seq, 'hash does not match the record (edited)')
    if (prevSeq === undefined) {
      // A chain starts at seq 1 linked to the genesis hash; anything else means the head was removed.
      if (seq !== 1) return bad(seq, `chain starts at seq ${seq}: seq 1 is missing (removed)`)
      if (rec.prev !== GENESIS) return bad(seq, 'first record does not link to the genesis hash')
    } else {
      if (seq !== expected) {
        return bad(
          seq,
          seq > expected
            ? `seq ${expected} is missing (removed or reordered)`
            : `seq ${seq} out of order (expected ${expected}; inserted or reordered)`,
        )
      }
      if (rec.prev !== prevHash)
        return bad(seq, 'prev does not link to the previous record (removed, inserted or reordered)')
    }
    prevHash = hash
    prevSeq = seq
    count++
  }
  return {
    ok: true,
    count,
    head: prevSeq === undefined ? undefined : { seq: prevSeq, hash: prevHash as string },
  }
}
