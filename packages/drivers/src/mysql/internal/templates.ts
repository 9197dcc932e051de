// mysql describes the template, not the values (issue 20 part 3). `query(sql, values)` sends text
// with the values formatted in; describing that text made every distinct value a new describe (and
// a cache entry holding the value). The template's facts are the sent text's facts when each value
// lands, as one literal, exactly where a bare `?` token of the template is. This module proves that
// per command, cheaply: it writes the template with the values put at its own `?` tokens (our lexer:
// never inside a string, comment or quoted identifier) and compares with what mysql2 will send. Any
// difference (a `??` identifier, a `?` our lexer reads differently from mysql2's formatter, an
// object expanded into assignments, a raw `toSqlString`, NaN), and the sent text is described
// instead, uncached, so no value stays in memory. Plans are cached per client (pool or connection),
// so one caller's many templates evict only its own client's entries.
import type { SqlFacts } from '@warden/policy'
import { derivedColumns, setDerivedColumns } from '../../internal/derived-columns.js'
import { describeMysql, describeMysqlUncached } from '../describe.js'
import type { Formatter } from '../mysql2-internals.js'
import { lexMysql } from './lexer.js'
import { LruCache } from './lru-cache.js'
import { setTxHint, txHint } from './tx-hints.js'

/** Templates per client (per generation; at most twice this many are held). */
const PLANS_PER_CLIENT = 500
/** Longer templates are described every time (as describeMysql does not cache them either). */
const MAX_CACHED_TEMPLATE = 16 * 1024

export interface TemplatePlan {
  /** Facts of the template text, `?` placeholders as placeholders. No values: the template holds none. */
  readonly facts: SqlFacts
  /** Offsets of the template's bare `?` tokens, in order. */
  readonly marks: readonly number[]
  /**
   * Whether a literal at every mark is read as that literal: the template parsed (no dynamic SQL,
   * whose string the describer reads), and each mark stands alone (no `??`, no letter, digit, quote
   * or dot beside it that a literal would merge with).
   */
  readonly literalsKeepFacts: boolean
}

// Characters that may stand beside a `?` that takes a literal (a literal never merges with them:
// e.g. `t?` + 1 is the identifier `t1`, `n?` + 'x' is the national string n'x', `-?` + -1 is `--1`).
const SAFE_BEFORE = new Set([...' \t\n\r\f\v(,=<>!+*/%|&^~;'].map((c) => c.charCodeAt(0)))
const SAFE_AFTER = new Set([...' \t\n\r\f\v),=<>!+-*/%|&^~;'].map((c) => c.charCodeAt(0)))

const plansByClient = new WeakMap<object, LruCache<string, TemplatePlan>>()

function plansOf(client: object): LruCache<string, TemplatePlan> {
  let plans = plansByClient.get(client)
  if (plans === undefined) {
    plans = new LruCache(PLANS_PER_CLIENT)
    plansByClient.set(client, plans)
  }
  return plans
}

/** The plan of `template` for `client` (a pool's or connection's target), cached per client. */
export function templatePlan(client: object, template: string): TemplatePlan | Promise<TemplatePlan> {
  const cacheable = template.length <= MAX_CACHED_TEMPLATE
  const plans = cacheable ? plansOf(client) : undefined
  const hit = plans?.get(template)
  if (hit !== undefined) return hit
  const described = describeMysql(template)
  const build = (facts: SqlFacts): TemplatePlan => {
    const plan = planFor(template, facts)
    plans?.set(template, plan)
    return plan
  }
  return described instanceof Promise ? described.then(build) : build(described)
}

function planFor(template: string, facts: SqlFacts): TemplatePlan {
  const marks: number[] = []
  let alone = facts.parsed && !facts.flags.includes('dynamic_sql') && !facts.flags.includes('prepare')
  const lex = lexMysql(template)
  if (lex.error !== '') alone = false
  for (let s = 0; s < lex.statements.length; s++) {
    const tokens = lex.statements[s] as readonly string[]
    const spans = lex.spans[s] as readonly number[]
    for (let t = 0; t < tokens.length; t++) {
      if (tokens[t] !== '?') continue
      const at = spans[2 * t] as number
      marks.push(at)
      const before = at === 0 ? 0x20 : template.charCodeAt(at - 1)
      const after = at + 1 >= template.length ? 0x20 : template.charCodeAt(at + 1)
      if (!SAFE_BEFORE.has(before) || !SAFE_AFTER.has(after)) alone = false
    }
  }
  return Object.freeze({ facts, marks: Object.freeze(marks), literalsKeepFacts: alone })
}

/**
 * The facts of the text mysql2 will send for a query, shown with `label` as their text (the
 * caller's template). From the template's plan when the sent text is the template with literals at
 * its marks, else from the sent text itself (uncached).
 */
export function queryFacts(
  client: object,
  formatter: Formatter,
  resolved: { readonly template: string; readonly values: unknown; readonly text: string },
  label: string,
): SqlFacts | Promise<SqlFacts> {
  const { template, values, text } = resolved
  const planned = templatePlan(client, template)
  const decide = (plan: TemplatePlan): SqlFacts | Promise<SqlFacts> => {
    // Nothing formatted in (no values, or no placeholder took one): the template is what runs.
    if (text === template) return relabel(plan.facts, label)
    if (plan.literalsKeepFacts && withLiterals(template, plan.marks, values, formatter) === text)
      return relabel(plan.facts, label)
    const sent = describeMysqlUncached(text)
    return sent instanceof Promise ? sent.then((f) => relabelOnce(f, label)) : relabelOnce(sent, label)
  }
  return planned instanceof Promise ? planned.then(decide) : decide(planned)
}

/**
 * The template with values at its marks as mysql2's formatter writes them, or undefined when a
 * value is not a plain literal (objects become `col = value` lists, `toSqlString` is raw SQL, NaN
 * and Infinity are written bare).
 */
function withLiterals(
  template: string,
  marks: readonly number[],
  values: unknown,
  formatter: Formatter,
): string | undefined {
  const list = Array.isArray(values) ? values : [values]
  const n = Math.min(list.length, marks.length)
  let out = ''
  let last = 0
  for (let i = 0; i < n; i++) {
    const v = list[i]
    if (!literal(v, 0)) return undefined
    const at = marks[i] as number
    out += template.slice(last, at) + formatter.escape(v)
    last = at + 1
  }
  return out + template.slice(last)
}

/** A value mysql2 writes as literals only: scalars, Dates, Buffers, non-empty lists of them (`IN (?)`, `VALUES ?`). */
function literal(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return true
    case 'number':
      return Number.isFinite(v)
    case 'object': {
      if (v === null || v instanceof Date || Buffer.isBuffer(v)) return true
      if (!Array.isArray(v) || v.length === 0 || depth > 1) return false
      for (let i = 0; i < v.length; i++) if (!literal(v[i], depth + 1)) return false
      return true
    }
    default:
      return false
  }
}

// Template facts shown under the caller's text (named placeholders: `:id` written, `?` described).
const relabelled = new WeakMap<SqlFacts, SqlFacts>()

function relabel(facts: SqlFacts, label: string): SqlFacts {
  if (facts.text === label) return facts
  const known = relabelled.get(facts)
  if (known !== undefined && known.text === label) return known
  const out = relabelOnce(facts, label)
  relabelled.set(facts, out)
  return out
}

function relabelOnce(facts: SqlFacts, label: string): SqlFacts {
  if (facts.text === label) return facts
  const out = Object.freeze({ ...facts, text: label })
  setDerivedColumns(out, derivedColumns(facts))
  setTxHint(out, txHint(facts))
  return out
}
