// The masking engine: compiles decision.masks into per-shape plans (cached), and hands the
// pipeline one CommandMasker per command that applies them and counts what it masked.
import type { DetectorName, MaskRule, MaskStrategyName } from '@warden/policy'
import { WardenError, WardenTypeError } from '@warden/policy'
import type { CountryCode } from 'libphonenumber-js/max'
import type { Secret } from '../secret.js'
import { findSpans, isDetectorName } from './internal/detectors.js'
import { compileGlob, matchColumn, matchPath, type PathGlob } from './internal/glob.js'
import { deriveKeys, keyMaterial, type MaskingKeys, openToken } from './internal/keys.js'
import { Lru } from './internal/lru.js'
import { REDACTED, STRENGTH, type StrategyFn, strategyFn, textStrategyFn } from './internal/strategies.js'
import type { ColumnRef, Masker, MaskPlan } from './mask-plan.js'

export interface MaskingOptions {
  /**
   * Key for `hash` and `tokenize` (at least 16 bytes). Without one, a random key is made per
   * process: hashes and tokens then differ between processes and restarts (no joins across
   * instances, and tokens can never be detokenized after the process ends).
   */
  readonly key?: string | Secret
  /** Compiled plans kept per engine (LRU). Default 1024. */
  readonly planCacheSize?: number
  /** Region for phone numbers written without `+country` (ISO 3166 alpha-2). Default `US`. */
  readonly phoneCountry?: CountryCode
}

/** What one command masked: values per column (or JSON path, or `(text)`) and strategy. */
export interface MaskReportEntry {
  readonly column: string
  readonly strategy: MaskStrategyName
  readonly count: number
}

/** The per-command masker the pipeline passes to drivers as `context.masker`. */
export interface CommandMasker extends Masker {
  /** Counts for the audit record's `masked` field; entries with a zero count are left out. */
  report(): MaskReportEntry[]
  /** Flow tags of the rules that actually masked something in this command. */
  tags(): string[]
}

export interface MaskingEngine {
  /** A masker for one command's rules (`decision.masks`). Throws ERR_WARDEN_MASKING on a malformed rule. */
  masker(rules: readonly MaskRule[]): CommandMasker
  /** Opens a token made by this engine's `tokenize` strategy. */
  detokenize(token: string): string
  /** True when no key was given (a random per-process key is in use). */
  readonly ephemeralKey: boolean
}

// ---------------------------------------------------------------------------------------------

interface Action {
  readonly strategy: MaskStrategyName
  readonly rule: number
  readonly fn: StrategyFn
  readonly textFn: (value: string) => string
}

/** Which detectors run on a value, and with which strategy each. */
interface DetectAction {
  readonly names: readonly DetectorName[]
  readonly by: ReadonlyMap<DetectorName, Action>
  readonly hasNull: boolean
}

interface RuleSet {
  readonly id: number
  readonly rules: readonly MaskRule[]
  readonly columnRules: readonly { readonly globs: readonly PathGlob[]; readonly action: Action }[]
  readonly detectRules: readonly {
    readonly names: readonly DetectorName[]
    readonly scope: readonly PathGlob[] | null
    readonly action: Action
  }[]
  /** Unscoped detectors: used in text and everywhere in JSON. */
  readonly everywhere: DetectAction | null
  /** Every detector of every rule: free text has no columns to scope by. */
  readonly all: DetectAction | null
  readonly byColumns: WeakMap<readonly ColumnRef[], CompiledPlan>
  readonly paths: Lru<string, PathAction>
  /** Whether any rule carries flow tags (else tags() has nothing to report). */
  readonly tagged: boolean
}

type Slot =
  | { readonly kind: 'whole'; readonly index: number; readonly name: string; readonly action: Action }
  | { readonly kind: 'detect'; readonly index: number; readonly name: string; readonly detect: DetectAction }

interface CompiledPlan {
  readonly slots: readonly Slot[]
}

type PathAction = { readonly whole: Action } | { readonly whole: null; readonly detect: DetectAction | null }

const MAX_KNOWN = 1024
const MAX_DEPTH = 200
const NO_PLAN: CompiledPlan = Object.freeze({ slots: [] })

function stronger(a: Action | undefined, b: Action): Action {
  return a === undefined || STRENGTH[b.strategy] > STRENGTH[a.strategy] ? b : a
}

function mergeDetect(
  parts: readonly { readonly names: readonly DetectorName[]; readonly action: Action }[],
): DetectAction | null {
  const by = new Map<DetectorName, Action>()
  for (const p of parts) for (const n of p.names) by.set(n, stronger(by.get(n), p.action))
  if (by.size === 0) return null
  return { names: [...by.keys()], by, hasNull: [...by.values()].some((a) => a.strategy === 'null') }
}

function fail(message: string): never {
  throw new WardenError('ERR_WARDEN_MASKING', message)
}

class Engine implements MaskingEngine {
  readonly #keys: MaskingKeys
  readonly #country: CountryCode
  readonly #ruleSets = new Lru<string, RuleSet>(256)
  readonly #byRules = new WeakMap<readonly MaskRule[], RuleSet>()
  /**
   * Rule sets by the identity of their (frozen) rule objects, keyed by the first rule: a policy
   * hands out a new `masks` array per decision but the same frozen rule objects, so the common
   * path finds its set without building a string key.
   */
  readonly #byFirstRule = new WeakMap<
    object,
    { readonly rules: readonly MaskRule[]; readonly set: RuleSet }[]
  >()
  readonly #plans: Lru<string, CompiledPlan>
  readonly ephemeralKey: boolean
  #nextId = 1

  constructor(options: MaskingOptions) {
    if (typeof options !== 'object' || options === null)
      throw new WardenTypeError('createMaskingEngine: options must be an object')
    const material = keyMaterial(options.key, 'createMaskingEngine')
    this.ephemeralKey = material === undefined
    this.#keys = deriveKeys(material)
    material?.fill(0)
    const size = options.planCacheSize ?? 1024
    if (!Number.isInteger(size) || size < 1)
      throw new WardenTypeError('createMaskingEngine: "planCacheSize" must be a positive integer')
    this.#plans = new Lru(size)
    this.#country = options.phoneCountry ?? 'US'
    if (!/^[A-Z]{2}$/.test(this.#country))
      throw new WardenTypeError('createMaskingEngine: "phoneCountry" must be an ISO 3166 alpha-2 code')
    Object.freeze(this)
  }

  masker(rules: readonly MaskRule[]): CommandMasker {
    return new CommandMaskerImpl(this, this.#ruleSet(rules))
  }

  detokenize(token: string): string {
    return openToken(this.#keys, token)
  }

  /** @internal */
  get country(): CountryCode {
    return this.#country
  }

  /** @internal The compiled plan for (rules, shape): from the identity cache, then the LRU, else compiled. */
  compiledPlan(set: RuleSet, columns: readonly ColumnRef[]): CompiledPlan {
    const known = set.byColumns.get(columns)
    if (known !== undefined) return known
    let shape = `${set.id}`
    for (const c of columns) {
      shape += `\u0001${c.name}\u0000${c.table ?? ''}\u0000${c.origin ?? ''}`
      if (c.derivedFrom !== undefined && c.derivedFrom.length > 0)
        shape += `\u0000${c.derivedFrom.join('\u0002')}`
    }
    let plan = this.#plans.get(shape)
    if (plan === undefined) {
      plan = compilePlan(set, columns)
      this.#plans.set(shape, plan)
    }
    set.byColumns.set(columns, plan)
    return plan
  }

  #ruleSet(rules: readonly MaskRule[]): RuleSet {
    if (!Array.isArray(rules)) fail('masker: rules must be an array of mask rules')
    const known = this.#byRules.get(rules)
    if (known !== undefined) return known
    const first = rules[0] as unknown
    const candidates = typeof first === 'object' && first !== null ? this.#byFirstRule.get(first) : undefined
    if (candidates !== undefined) {
      for (let c = 0; c < candidates.length; c++) {
        const cand = candidates[c].rules
        if (cand.length !== rules.length) continue
        let same = true
        for (let i = 1; i < rules.length && same; i++) same = cand[i] === rules[i]
        if (same) return candidates[c].set
      }
    }
    const key = JSON.stringify(rules.map((r) => [r?.name, r?.columns, r?.detectors, r?.strategy, r?.tags]))
    let set = this.#ruleSets.get(key)
    if (set === undefined) {
      set = this.#compileRules(rules)
      this.#ruleSets.set(key, set)
    }
    // Decisions from one policy share their frozen mask arrays (or at least their frozen rule
    // objects); remember by identity too.
    if (Object.isFrozen(rules)) this.#byRules.set(rules, set)
    if (
      typeof first === 'object' &&
      first !== null &&
      rules.every((r) => Object.isFrozen(r) && deepFrozenRule(r))
    ) {
      let list = this.#byFirstRule.get(first)
      if (list === undefined) {
        list = []
        this.#byFirstRule.set(first, list)
      }
      if (list.length < 64) list.push({ rules: Object.freeze([...rules]), set })
    }
    return set
  }

  #compileRules(rules: readonly MaskRule[]): RuleSet {
    const columnRules: RuleSet['columnRules'][number][] = []
    const detectRules: RuleSet['detectRules'][number][] = []
    rules.forEach((rule, i) => {
      const label = typeof rule?.name === 'string' ? rule.name : `#${i}`
      if (typeof rule !== 'object' || rule === null) fail(`mask rule ${label} is not an object`)
      if (!Object.hasOwn(STRENGTH, rule.strategy))
        fail(`mask rule ${label}: unknown strategy "${String(rule.strategy)}"`)
      const columns = rule.columns ?? []
      const detectors = rule.detectors ?? []
      if (!Array.isArray(columns) || !Array.isArray(detectors))
        fail(`mask rule ${label}: columns and detectors must be lists`)
      for (const d of detectors)
        if (!isDetectorName(d)) fail(`mask rule ${label}: unknown detector "${String(d)}"`)
      let globs: PathGlob[]
      try {
        globs = columns.map(compileGlob)
      } catch (e) {
        fail(`mask rule ${label}: ${(e as Error).message}`)
      }
      const action: Action = {
        strategy: rule.strategy,
        rule: i,
        fn: strategyFn(rule.strategy, this.#keys),
        textFn: textStrategyFn(rule.strategy, this.#keys),
      }
      // Columns alone: mask those columns whole. Detectors alone: scan every value. Both: scan
      // only those columns with the detectors.
      if (detectors.length === 0) {
        if (globs.length > 0) columnRules.push({ globs, action })
      } else detectRules.push({ names: detectors, scope: globs.length > 0 ? globs : null, action })
    })
    return {
      id: this.#nextId++,
      rules,
      columnRules,
      detectRules,
      everywhere: mergeDetect(detectRules.filter((r) => r.scope === null)),
      all: mergeDetect(detectRules),
      byColumns: new WeakMap(),
      paths: new Lru(4096),
      tagged: rules.some((r) => (r.tags?.length ?? 0) > 0),
    }
  }
}

/** A rule's lists are frozen too (so the identity cache cannot go stale). */
function deepFrozenRule(rule: MaskRule): boolean {
  for (const v of [rule.columns, rule.detectors, rule.tags])
    if (v !== undefined && v !== null && !Object.isFrozen(v)) return false
  return true
}

function compilePlan(set: RuleSet, columns: readonly ColumnRef[]): CompiledPlan {
  if (set.columnRules.length === 0 && set.detectRules.length === 0) return NO_PLAN
  const slots: Slot[] = []
  columns.forEach((c, index) => {
    const names = [c.name.toLowerCase()]
    if (c.origin !== undefined && c.origin.toLowerCase() !== names[0]) names.push(c.origin.toLowerCase())
    const table = c.table === undefined || c.table === '' ? undefined : c.table.toLowerCase().split('.')
    let whole: Action | undefined
    for (const r of set.columnRules) {
      if (r.globs.some((g) => matchColumn(g, names, table))) whole = stronger(whole, r.action)
    }
    // A computed column carries what its expressions read: masked whole when any of that is.
    const derived =
      table === undefined && c.derivedFrom !== undefined && c.derivedFrom.length > 0
        ? c.derivedFrom.map((d) => String(d).toLowerCase())
        : undefined
    const wholeRow = derived?.includes('*') === true
    if (derived !== undefined) {
      for (const r of set.columnRules) {
        if (wholeRow || r.globs.some((g) => matchColumn(g, derived, undefined)))
          whole = stronger(whole, r.action)
      }
    }
    if (whole !== undefined) {
      slots.push({ kind: 'whole', index, name: c.name, action: whole })
      return
    }
    const detect = mergeDetect(
      set.detectRules.filter(
        (r) =>
          r.scope === null ||
          r.scope.some(
            (g) =>
              matchColumn(g, names, table) ||
              wholeRow ||
              (derived !== undefined && matchColumn(g, derived, undefined)),
          ),
      ),
    )
    if (detect !== null) slots.push({ kind: 'detect', index, name: c.name, detect })
  })
  return Object.freeze({ slots: Object.freeze(slots) })
}

function pathAction(set: RuleSet, path: readonly string[], inherited: DetectAction | null): PathAction {
  let whole: Action | undefined
  for (const r of set.columnRules)
    if (r.globs.some((g) => matchPath(g, path))) whole = stronger(whole, r.action)
  if (whole !== undefined) return { whole }
  const scoped = set.detectRules.filter((r) => r.scope?.some((g) => matchPath(g, path)))
  if (scoped.length === 0) return { whole: null, detect: inherited }
  const parts = scoped.map((r) => ({ names: r.names, action: r.action }))
  if (inherited !== null) for (const [n, a] of inherited.by) parts.push({ names: [n], action: a })
  return { whole: null, detect: mergeDetect(parts) }
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

class CommandMaskerImpl implements CommandMasker {
  readonly #engine: Engine
  readonly #set: RuleSet
  // Allocated on first use: most commands bind one plan and record no detector hits.
  #first: BoundPlan | undefined
  #bound: Map<CompiledPlan, BoundPlan> | undefined
  #hits: Map<string, { column: string; strategy: MaskStrategyName; count: number }> | undefined
  #rulesHit: Set<number> | undefined
  /** Values masked whole in this command, so text() can mask them inside error messages too. */
  #known: Map<string, Action> | undefined

  constructor(engine: Engine, set: RuleSet) {
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
    for (const [known, action] of this.#known ?? []) {
      if (out.includes(known)) {
        const parts = out.split(known)
        this.hit('(text)', action, parts.length - 1)
        out = parts.join(action.textFn(known))
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
    for (const i of rules) for (const t of this.#set.rules[i].tags ?? []) tags.add(t)
    return [...tags].sort()
  }

  /** @internal */
  hit(column: string, action: Action, count = 1): void {
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
    if (value.length < 4) return
    this.#known ??= new Map()
    const known = this.#known
    if (known.size < MAX_KNOWN && !known.has(value)) known.set(value, action)
  }

  /** @internal A cell or JSON leaf under detectors: strings scanned, binary scanned whole, JSON walked. */
  detectValue(value: unknown, detect: DetectAction, column: string, depth: number): unknown {
    if (typeof value === 'string') return this.#detectString(value, detect, column, true)
    if (value instanceof Uint8Array) {
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

  #walkDetect(value: object, detect: DetectAction, column: string, depth: number): unknown {
    if (depth > MAX_DEPTH) {
      this.hit(column, { strategy: 'redact', rule: -1, fn: () => REDACTED, textFn: () => REDACTED })
      return REDACTED
    }
    if (Array.isArray(value)) return value.map((v) => this.detectValue(v, detect, column, depth + 1))
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = this.detectValue(v, detect, column, depth + 1)
    return out
  }

  #detectString(text: string, detect: DetectAction, column: string, cell: boolean): string | null {
    const spans = findSpans(text, detect.names, this.#engine.country)
    if (spans.length === 0) return text
    if (cell && detect.hasNull) {
      // `null` cannot blank part of a string: a cell with a value for a `null` rule becomes NULL.
      const nullAction = spans
        .map((s) => detect.by.get(s.detector) as Action)
        .find((a) => a.strategy === 'null')
      if (nullAction !== undefined) {
        this.hit(column, nullAction, 1)
        return null
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
      this.hit(path.join('.') || '(json)', {
        strategy: 'redact',
        rule: -1,
        fn: () => REDACTED,
        textFn: () => REDACTED,
      })
      return REDACTED
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

/** Creates the engine that compiles and caches mask plans. One per Warden. */
export function createMaskingEngine(options: MaskingOptions = {}): MaskingEngine {
  return new Engine(options)
}
