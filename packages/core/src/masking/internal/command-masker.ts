// The per-command masker: binds cached plans to this command's counters, masks cells, text and
// JSON, and remembers (as fingerprints) what it masked whole so error text can be masked too.
import type { MaskStrategyName } from '@warden/policy'
import type { CountryCode } from 'libphonenumber-js/max'
import type { ColumnRef, MaskPlan } from '../mask-plan.js'
import type { CommandMasker, MaskReportEntry } from '../masking-engine.js'
import { pathAction } from './compile-plan.js'
import { findSpans } from './detectors.js'
import { KnownValues } from './known-values.js'
import {
  type Action,
  type CompiledPlan,
  type DetectAction,
  fail,
  REDACT_ACTION,
  type RuleSet,
  type Slot,
  stronger,
} from './rule-set.js'
import { REDACTED } from './strategies.js'

const MAX_DEPTH = 200
/** Masked values held before they are fingerprinted (see CommandMaskerImpl.remember). */
const PENDING_MAX = 4096

/** What the masker needs of its engine. */
export interface PlanSource {
  readonly country: CountryCode
  /** Strings (and binary) longer than this are masked whole instead of scanned. */
  readonly maxScanLength: number
  compiledPlan(set: RuleSet, columns: readonly ColumnRef[]): CompiledPlan
}

class BoundPlan implements MaskPlan {
  readonly active: boolean
  readonly slots: readonly Slot[]
  readonly counts: number[]
  readonly compiled: CompiledPlan
  readonly #masker: CommandMaskerImpl

  constructor(compiled: CompiledPlan, masker: CommandMaskerImpl) {
    this.compiled = compiled
    this.slots = compiled.slots
    this.active = compiled.slots.length > 0
    const counts: number[] = []
    for (let i = 0; i < compiled.slots.length; i++) counts.push(0)
    this.counts = counts
    this.#masker = masker
  }

  applyObject(row: Record<string, unknown>): Record<string, unknown> {
    const slots = this.slots
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]
      const value = row[slot.name]
      if (value === null || value === undefined) continue
      row[slot.name] = this.#cell(slot, i, value)
    }
    return row
  }

  applyArray(row: unknown[]): unknown[] {
    const slots = this.slots
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]
      const value = row[slot.index]
      if (value === null || value === undefined) continue
      row[slot.index] = this.#cell(slot, i, value)
    }
    return row
  }

  #cell(slot: Slot, i: number, value: unknown): unknown {
    if (slot.kind === 'whole') {
      this.counts[i]++
      const masked = slot.action.fn(value)
      if (typeof value === 'string') this.#masker.remember(value, slot.action)
      return masked
    }
    return this.#masker.detectValue(value, slot.detect, slot.name, 0)
  }
}

export class CommandMaskerImpl implements CommandMasker {
  readonly #engine: PlanSource
  readonly #set: RuleSet
  // Allocated on first use: most commands bind one plan and record no detector hits.
  #first: BoundPlan | undefined
  #bound: Map<CompiledPlan, BoundPlan> | undefined
  #hits: Map<string, { column: string; strategy: MaskStrategyName; count: number }> | undefined
  #rulesHit: Set<number> | undefined
  /** Values masked whole in this command (fingerprints), so text() masks them in error messages too. */
  #known: KnownValues | undefined
  /**
   * Values masked whole and not fingerprinted yet: most commands never mask text, so a masked cell
   * costs a push here, and the fingerprints are taken only when text() needs them (or many wait).
   */
  #pendingValues: string[] | undefined
  #pendingActions: Action[] | undefined
  /** Values masked so far (any way): tells whether a JSON string needs writing back. */
  #changes = 0

  constructor(engine: PlanSource, set: RuleSet) {
    this.#engine = engine
    this.#set = set
  }

  plan(columns: readonly ColumnRef[]): MaskPlan {
    if (!Array.isArray(columns)) fail('masker.plan: columns must be an array of column refs')
    const compiled = this.#engine.compiledPlan(this.#set, columns)
    const first = this.#first
    if (first === undefined) {
      this.#first = new BoundPlan(compiled, this)
      return this.#first
    }
    if (first.compiled === compiled) return first
    this.#bound ??= new Map()
    let bound = this.#bound.get(compiled)
    if (bound === undefined) {
      bound = new BoundPlan(compiled, this)
      this.#bound.set(compiled, bound)
    }
    return bound
  }

  /** Every plan bound in this command (first-bound first). */
  #plans(): BoundPlan[] {
    const out: BoundPlan[] = []
    if (this.#first !== undefined) out.push(this.#first)
    if (this.#bound !== undefined) for (const b of this.#bound.values()) out.push(b)
    return out
  }

  text(value: string): string {
    if (typeof value !== 'string') return value
    let out = value
    if (this.#pendingValues !== undefined) this.#fingerprint()
    const known = this.#known
    if (known !== undefined) {
      if (known.overflowed) {
        // Too many values to tell apart: any text of this command could echo one.
        this.hit('(text)', REDACT_ACTION)
        return REDACTED
      }
      const spans = known.find(out)
      if (spans.length > 0) {
        let masked = ''
        let at = 0
        for (const s of spans) {
          this.hit('(text)', s.action)
          masked += out.slice(at, s.start) + s.action.textFn(out.slice(s.start, s.end))
          at = s.end
        }
        out = masked + out.slice(at)
      }
    }
    const all = this.#set.all
    return all === null ? out : (this.#detectString(out, all, '(text)', false) as string)
  }

  json(value: unknown): unknown {
    return this.#json(value, [], this.#set.everywhere, 0)
  }

  report(): MaskReportEntry[] {
    // O(masked columns); nothing is allocated beyond the result when the command masked nothing.
    let merged: Entries | undefined
    if (this.#first !== undefined) merged = wholeCounts(this.#first, merged)
    if (this.#bound !== undefined) for (const b of this.#bound.values()) merged = wholeCounts(b, merged)
    if (this.#hits !== undefined) {
      for (const h of this.#hits.values()) merged = addEntry(merged, h.column, h.strategy, h.count)
    }
    const out: MaskReportEntry[] = []
    if (merged === undefined) return out
    for (const e of merged.values()) if (e.count > 0) out.push(Object.freeze({ ...e }))
    return out
  }

  tags(): string[] {
    if (!this.#set.tagged) return []
    const rules = new Set(this.#rulesHit)
    for (const bound of this.#plans()) {
      bound.slots.forEach((slot, i) => {
        if (slot.kind === 'whole' && bound.counts[i] > 0) rules.add(slot.action.rule)
      })
    }
    const tags = new Set<string>()
    for (const i of rules) for (const t of this.#set.rules[i]?.tags ?? []) tags.add(t)
    return [...tags].sort()
  }

  /** @internal */
  hit(column: string, action: Action, count = 1): void {
    this.#changes += count
    this.#rulesHit ??= new Set()
    this.#rulesHit.add(action.rule)
    const key = `${column}\u0000${action.strategy}`
    this.#hits ??= new Map()
    const e = this.#hits.get(key)
    if (e === undefined) this.#hits.set(key, { column, strategy: action.strategy, count })
    else e.count += count
  }

  /** @internal */
  remember(value: string, action: Action): void {
    if (value.length < 4) return // KnownValues keeps none this short
    if (this.#pendingValues === undefined) {
      this.#pendingValues = [value]
      this.#pendingActions = [action]
      return
    }
    this.#pendingValues.push(value)
    ;(this.#pendingActions as Action[]).push(action)
    // Bounded: the strings are held only until fingerprinted.
    if (this.#pendingValues.length >= PENDING_MAX) this.#fingerprint()
  }

  #fingerprint(): void {
    const values = this.#pendingValues
    const actions = this.#pendingActions
    this.#pendingValues = undefined
    this.#pendingActions = undefined
    if (values === undefined || actions === undefined) return
    this.#known ??= new KnownValues()
    const known = this.#known
    for (let i = 0; i < values.length; i++) known.add(values[i], actions[i])
  }

  /** @internal A cell or JSON leaf under detectors: strings scanned, binary scanned whole, JSON walked. */
  detectValue(value: unknown, detect: DetectAction, column: string, depth: number): unknown {
    if (typeof value === 'string') return this.#detectString(value, detect, column, true)
    if (value instanceof Uint8Array) {
      if (value.byteLength > this.#engine.maxScanLength) return this.#tooLong(value, detect, column)
      // Binary cells are scanned as latin1 (one char per byte); a hit masks the whole cell, since
      // replacing bytes inside a binary value would corrupt it in ways the reader cannot see.
      const text = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1')
      const spans = findSpans(text, detect.names, this.#engine.country)
      if (spans.length === 0) return value
      let action: Action | undefined
      for (const s of spans) action = stronger(action, detect.by.get(s.detector) as Action)
      this.hit(column, action as Action)
      return (action as Action).fn(value)
    }
    if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
      return this.#walkDetect(value, detect, column, depth)
    }
    return value
  }

  /** A value too long to scan in bounded time is masked whole with the strongest detector's strategy. */
  #tooLong(value: unknown, detect: DetectAction, column: string): unknown {
    this.hit(column, detect.strongest)
    return detect.strongest.fn(value)
  }

  #walkDetect(value: object, detect: DetectAction, column: string, depth: number): unknown {
    if (depth > MAX_DEPTH) {
      this.hit(column, REDACT_ACTION)
      return REDACTED
    }
    if (Array.isArray(value)) return value.map((v) => this.detectValue(v, detect, column, depth + 1))
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = this.detectValue(v, detect, column, depth + 1)
    return out
  }

  #detectString(text: string, detect: DetectAction, column: string, cell: boolean): string | null {
    if (text.length > this.#engine.maxScanLength) {
      // Free text cannot become NULL: textFn (null redacts there).
      if (cell) return this.#tooLong(text, detect, column) as string | null
      this.hit(column, detect.strongest)
      return detect.strongest.textFn(text)
    }
    const spans = findSpans(text, detect.names, this.#engine.country)
    if (spans.length === 0) return text
    if (cell && detect.hasNull) {
      // `null` cannot blank part of a string: a cell with a value for a `null` rule becomes NULL.
      for (const s of spans) {
        const action = detect.by.get(s.detector) as Action
        if (action.strategy === 'null') {
          this.hit(column, action, 1)
          return null
        }
      }
    }
    let out = ''
    let at = 0
    for (const s of spans) {
      const action = detect.by.get(s.detector) as Action
      this.hit(column, action)
      out += text.slice(at, s.start) + action.textFn(text.slice(s.start, s.end))
      at = s.end
    }
    return out + text.slice(at)
  }

  #json(value: unknown, path: string[], detect: DetectAction | null, depth: number): unknown {
    if (depth > MAX_DEPTH) {
      this.hit(path.join('.') || '(json)', REDACT_ACTION)
      return REDACTED
    }
    if (typeof value === 'string') {
      // A string that holds JSON (a tool result, a text body, a json column read as text) is
      // masked as the JSON it holds, by key and detector, and written back as JSON.
      const inner = parseJsonText(value, this.#engine.maxScanLength)
      if (inner !== undefined) {
        const before = this.#changes
        const masked = this.#json(inner, path, detect, depth + 1)
        return this.#changes === before ? value : JSON.stringify(masked)
      }
    }
    if (Array.isArray(value)) return value.map((v) => this.#json(v, path, detect, depth + 1))
    if (
      typeof value === 'object' &&
      value !== null &&
      !(value instanceof Date) &&
      !(value instanceof Uint8Array)
    ) {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) {
        path.push(k)
        const key = path.join('\u0000')
        let action = detect === this.#set.everywhere ? this.#set.paths.get(key) : undefined
        if (action === undefined) {
          action = pathAction(this.#set, path, detect)
          if (detect === this.#set.everywhere) this.#set.paths.set(key, action)
        }
        if (action.whole !== null) {
          if (v !== null && v !== undefined) {
            this.hit(path.join('.'), action.whole)
            if (typeof v === 'string') this.remember(v, action.whole)
            out[k] = action.whole.fn(v)
          } else out[k] = v
        } else out[k] = this.#json(v, path, action.detect, depth + 1)
        path.pop()
      }
      return out
    }
    if (detect !== null && value !== null && value !== undefined) {
      return this.detectValue(value, detect, path.length > 0 ? path.join('.') : '(json)', depth)
    }
    return value
  }
}

/** The object or array a string holds as JSON, or undefined (not JSON, a scalar, or too long to parse). */
export function parseJsonText(text: string, max: number): object | undefined {
  if (text.length < 2 || text.length > max) return undefined
  let i = 0
  while (
    i < text.length &&
    (text.charCodeAt(i) === 32 || (text.charCodeAt(i) >= 9 && text.charCodeAt(i) <= 13))
  )
    i++
  const c = text.charCodeAt(i)
  if (c !== 123 && c !== 91) return undefined // only `{` or `[`: no exception for ordinary text
  try {
    const v = JSON.parse(text) as unknown
    return typeof v === 'object' && v !== null ? v : undefined
  } catch {
    return undefined
  }
}

type Entries = Map<string, { column: string; strategy: MaskStrategyName; count: number }>

function addEntry(
  merged: Entries | undefined,
  column: string,
  strategy: MaskStrategyName,
  count: number,
): Entries {
  const out = merged ?? new Map()
  const key = `${column}\u0000${strategy}`
  const e = out.get(key)
  // keys in canonical (sorted) order: the audit record serializes the entries without sorting
  if (e === undefined) out.set(key, { column, count, strategy })
  else e.count += count
  return out
}

/** Adds a bound plan's whole-column counts (allocates only when something was masked). */
function wholeCounts(bound: BoundPlan, merged: Entries | undefined): Entries | undefined {
  const slots = bound.slots
  const counts = bound.counts
  let out = merged
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]
    if (slot.kind === 'whole' && counts[i] > 0)
      out = addEntry(out, slot.name, slot.action.strategy, counts[i])
  }
  return out
}
