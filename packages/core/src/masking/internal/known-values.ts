// Values a command masked whole, kept as fingerprints (never the values themselves) so text() can
// mask them where an error message echoes one (`Key (ssn)=(…) already exists`). Every value is
// kept, not the first N: a text is scanned once per distinct value length with a rolling hash, so
// the cost is O(text × distinct lengths) and the memory one number per value. A hash collision
// masks a substring that was not a value: that fails closed.
import type { Action } from './rule-set.js'

const P = 2_147_483_647 // 2^31 - 1: products with BASE stay below 2^53
const BASE = 131_071
/** Values at least this long are kept by this prefix; a hit masks to the end of the text. */
export const PREFIX = 256
/** Past this many values the masker stops telling them apart and masks any text whole. */
export const MAX_VALUES = 1 << 20
const MIN_LENGTH = 4

function hashOf(s: string, from: number, length: number): number {
  let h = 0
  for (let i = from; i < from + length; i++) h = (h * BASE + s.charCodeAt(i)) % P
  return h
}

export class KnownValues {
  readonly #byLength = new Map<number, Map<number, Action>>()
  #size = 0
  overflowed = false

  add(value: string, action: Action): void {
    if (value.length < MIN_LENGTH) return
    const length = Math.min(value.length, PREFIX)
    let set = this.#byLength.get(length)
    if (set === undefined) {
      set = new Map()
      this.#byLength.set(length, set)
    }
    const h = hashOf(value, 0, length)
    if (set.has(h)) return
    if (this.#size >= MAX_VALUES) {
      this.overflowed = true
      return
    }
    set.set(h, action)
    this.#size++
  }

  get size(): number {
    return this.#size
  }

  /** Spans of `text` that are (fingerprints of) known values; overlapping ones merge, longest first. */
  find(text: string): { start: number; end: number; action: Action }[] {
    const hits: { start: number; end: number; action: Action }[] = []
    for (const [length, set] of this.#byLength) {
      if (length > text.length) continue
      let pow = 1
      for (let i = 1; i < length; i++) pow = (pow * BASE) % P
      let h = hashOf(text, 0, length)
      for (let at = 0; ; at++) {
        const action = set.get(h)
        if (action !== undefined)
          hits.push({ start: at, end: length === PREFIX ? text.length : at + length, action })
        if (at + length >= text.length) break
        // roll: drop text[at], add text[at + length]
        h = (h - ((text.charCodeAt(at) * pow) % P) + P) % P
        h = (h * BASE + text.charCodeAt(at + length)) % P
      }
    }
    if (hits.length <= 1) return hits
    hits.sort((a, b) => a.start - b.start || b.end - a.end)
    const kept: typeof hits = []
    for (const s of hits) {
      const last = kept[kept.length - 1]
      if (last !== undefined && s.start < last.end) {
        if (s.end > last.end) last.end = s.end
      } else kept.push({ ...s })
    }
    return kept
  }
}
