// Rule compilation: a command's mask rules become one RuleSet (column rules, detector rules, the
// merged detector sets), compiled once per distinct rule list and shared by every plan built on it.
import type { DetectorName, MaskRule, MaskStrategyName } from '@warden/policy'
import { WardenError } from '@warden/policy'
import type { ColumnRef } from '../mask-plan.js'
import { isDetectorName } from './detectors.js'
import { compileGlob, type PathGlob } from './glob.js'
import type { MaskingKeys } from './keys.js'
import { Lru } from './lru.js'
import { REDACTED, STRENGTH, type StrategyFn, strategyFn, textStrategyFn } from './strategies.js'

export interface Action {
  readonly strategy: MaskStrategyName
  readonly rule: number
  readonly fn: StrategyFn
  readonly textFn: (value: string) => string
}

/** Which detectors run on a value, and with which strategy each. */
export interface DetectAction {
  readonly names: readonly DetectorName[]
  readonly by: ReadonlyMap<DetectorName, Action>
  readonly hasNull: boolean
  /** The strongest of `by`: what a value too long to scan is masked with whole (fail closed). */
  readonly strongest: Action
}

export type Slot =
  | { readonly kind: 'whole'; readonly index: number; readonly name: string; readonly action: Action }
  | { readonly kind: 'detect'; readonly index: number; readonly name: string; readonly detect: DetectAction }

export interface CompiledPlan {
  readonly slots: readonly Slot[]
}

export type PathAction =
  | { readonly whole: Action }
  | { readonly whole: null; readonly detect: DetectAction | null }

export interface RuleSet {
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

/** Masks whatever could not be walked or scanned (too deep, too long): fail closed. */
export const REDACT_ACTION: Action = Object.freeze({
  strategy: 'redact',
  rule: -1,
  fn: () => REDACTED,
  textFn: () => REDACTED,
})

export function stronger(a: Action | undefined, b: Action): Action {
  return a === undefined || STRENGTH[b.strategy] > STRENGTH[a.strategy] ? b : a
}

export function mergeDetect(
  parts: readonly { readonly names: readonly DetectorName[]; readonly action: Action }[],
): DetectAction | null {
  const by = new Map<DetectorName, Action>()
  for (const p of parts) for (const n of p.names) by.set(n, stronger(by.get(n), p.action))
  if (by.size === 0) return null
  let strongest: Action | undefined
  for (const a of by.values()) strongest = stronger(strongest, a)
  return {
    names: [...by.keys()],
    by,
    hasNull: [...by.values()].some((a) => a.strategy === 'null'),
    strongest: strongest as Action,
  }
}

export function fail(message: string): never {
  throw new WardenError('ERR_WARDEN_MASKING', message)
}

export function compileRules(rules: readonly MaskRule[], keys: MaskingKeys, id: number): RuleSet {
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
      fn: strategyFn(rule.strategy, keys),
      textFn: textStrategyFn(rule.strategy, keys),
    }
    // Columns alone: mask those columns whole. Detectors alone: scan every value. Both: scan
    // only those columns with the detectors.
    if (detectors.length === 0) {
      if (globs.length > 0) columnRules.push({ globs, action })
    } else detectRules.push({ names: detectors, scope: globs.length > 0 ? globs : null, action })
  })
  return {
    id,
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

/** A rule's lists are frozen too (so the identity cache cannot go stale). */
export function deepFrozenRule(rule: MaskRule): boolean {
  for (const v of [rule.columns, rule.detectors, rule.tags])
    if (v !== undefined && v !== null && !Object.isFrozen(v)) return false
  return true
}
