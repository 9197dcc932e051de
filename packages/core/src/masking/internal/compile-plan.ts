// Plan compilation: which slots of a result shape are masked whole (column rules, including what a
// computed column derives from) and which are scanned by detectors; and the same for a JSON path.
// A computed column (no table, `derivedFrom` set) is never masked with a strategy that keeps part
// of the value (computedAction).
import type { ColumnRef } from '../mask-plan.js'
import { matchColumn, matchPath } from './glob.js'
import {
  type Action,
  type CompiledPlan,
  type DetectAction,
  mergeDetect,
  type PathAction,
  REDACT_ACTION,
  type RuleSet,
  type Slot,
  stronger,
} from './rule-set.js'

export const NO_PLAN: CompiledPlan = Object.freeze({ slots: [] })

export function compilePlan(set: RuleSet, columns: readonly ColumnRef[]): CompiledPlan {
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
      const action = derived === undefined ? whole : computedAction(set, whole, names, derived, wholeRow)
      slots.push({ kind: 'whole', index, name: c.name, action })
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

/**
 * A computed value is masked whole, but `partial` keeps what it keeps from the start of the value
 * (an email's domain, the last four characters): of `c::text` that is every later column in
 * clear, of `reverse(ssn)` the digits `ssn`'s own mask hides. So `partial` becomes `redact` (with
 * the rule's name and tags), and so does `tokenize` when a `partial` column is carried with it:
 * opening the token would reveal that column whole. `hash`, `redact` and `null` stand.
 */
function computedAction(
  set: RuleSet,
  whole: Action,
  names: readonly string[],
  derived: readonly string[],
  wholeRow: boolean,
): Action {
  if (whole.strategy === 'partial') return redactFor(set, whole)
  if (whole.strategy !== 'tokenize') return whole
  for (const r of set.columnRules) {
    if (r.action.strategy !== 'partial') continue
    if (
      wholeRow ||
      r.globs.some((g) => matchColumn(g, names, undefined) || matchColumn(g, derived, undefined))
    )
      return redactFor(set, whole)
  }
  return whole
}

function redactFor(set: RuleSet, action: Action): Action {
  let byRule = REDACT_BY_RULE.get(set)
  if (byRule === undefined) {
    byRule = new Map()
    REDACT_BY_RULE.set(set, byRule)
  }
  let redact = byRule.get(action.rule)
  if (redact === undefined) {
    redact = Object.freeze({ ...REDACT_ACTION, rule: action.rule })
    byRule.set(action.rule, redact)
  }
  return redact
}

const REDACT_BY_RULE = new WeakMap<RuleSet, Map<number, Action>>()

export function pathAction(
  set: RuleSet,
  path: readonly string[],
  inherited: DetectAction | null,
): PathAction {
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
