// Joins nested without parentheses: `t1 LEFT JOIN t2 LEFT JOIN t3 ON c1 ON c2`. MariaDB's grammar
// lets a join's right side be a join of its own, closed by the ON that follows it (the innermost
// join without a condition takes each ON); sqlparser-rs reads joins left to right only and fails
// on the second ON. The fix is only ever a pair of parentheses around such a right side,
// `t1 LEFT JOIN (t2 LEFT JOIN t3 ON c1) ON c2`: no token is dropped or moved, so the tables,
// functions and conditions the parser sees are exactly the statement's.
import { closing, type Edit, isName } from './mariadb-tokens.js'

/** Words that end a FROM clause (or an UPDATE's table list) at its own parenthesis level. */
const CLAUSE_END = new Set([
  'WHERE',
  'GROUP',
  'HAVING',
  'ORDER',
  'LIMIT',
  'WINDOW',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'INTO',
  'FOR',
  'LOCK',
  'PROCEDURE',
  'SET',
  'RETURNING',
])
const QUERY_START = new Set(['SELECT', 'WITH', 'VALUES'])

/** The insertions that parenthesize right-nested joins, for every FROM clause in the statement. */
export function nestedJoinEdits(t: readonly string[]): Edit[] {
  const edits: Edit[] = []
  for (let k = 0; k < t.length; k++) {
    if (t[k] !== 'FROM' && !(t[k] === 'UPDATE' && k === 0)) continue
    tableReferences(t, k + 1, clauseEnd(t, k + 1), edits)
  }
  return edits
}

/** Where the table references starting at k end: a clause word or a `)` at their level, or the end. */
function clauseEnd(t: readonly string[], k: number): number {
  let depth = 0
  for (let i = k; i < t.length; i++) {
    const w = t[i] as string
    if (w === '(') depth++
    else if (w === ')' && --depth < 0) return i
    else if (depth === 0 && CLAUSE_END.has(w)) return i
  }
  return t.length
}

/** The end (exclusive) of a join operator at i (`[NATURAL] [LEFT|RIGHT|INNER|CROSS] [OUTER] JOIN`), or -1. */
function joinOperator(t: readonly string[], i: number): number {
  let k = i
  if (t[k] === 'STRAIGHT_JOIN') return k + 1
  if (t[k] === 'NATURAL') k++
  if (t[k] === 'LEFT' || t[k] === 'RIGHT') {
    k++
    if (t[k] === 'OUTER') k++
  } else if (t[k] === 'INNER' || t[k] === 'CROSS') k++
  return t[k] === 'JOIN' ? k + 1 : -1
}

interface Parsed {
  readonly end: number
  readonly join: boolean
}

/**
 * `ref, ref, …` in [k, stop): each comma-separated reference a join chain. Inside parentheses
 * (`LEFT JOIN ((t1, t2) LEFT JOIN t3 ON …) ON …`) the parser takes no commas: they become CROSS
 * JOIN (the grouping differs, the tables and conditions do not).
 */
function tableReferences(t: readonly string[], k: number, stop: number, edits: Edit[], group = false): void {
  let i = k
  while (i < stop) {
    const r = chain(t, i, stop, edits)
    if (r.end >= stop || t[r.end] !== ',') return
    // `(t1, f())`: the parser would read f as a table; MariaDB has no such table functions.
    if (group && !calls(t, k, stop)) edits.push({ from: r.end, to: r.end + 1, replacement: 'CROSS JOIN' })
    i = r.end + 1
  }
}

/** Whether a name in [k, stop) at this level is followed by `(` (a call where a table belongs). */
function calls(t: readonly string[], k: number, stop: number): boolean {
  let depth = 0
  for (let i = k; i < stop; i++) {
    if (t[i] === '(') {
      if (depth === 0 && i > k && isName(t[i - 1]) && !HINT_WORDS.has(t[i - 1] as string)) return true
      depth++
    } else if (t[i] === ')') depth--
  }
  return false
}
/** Words a parenthesis follows at a table's level that are not calls. */
const HINT_WORDS = new Set(['INDEX', 'KEY', 'PARTITION', 'USING', 'JOIN', 'ON', 'AS', 'FOR'])

/**
 * `factor (join factor-or-chain [ON cond | USING (…)])*` from k: a join's right side takes every
 * join that follows it until a condition (MariaDB shifts there), and a right side that is a join
 * and is followed by the outer join's condition is wrapped in parentheses.
 */
function chain(t: readonly string[], k: number, stop: number, edits: Edit[]): Parsed {
  let pos = factor(t, k, stop, edits)
  let join = false
  for (;;) {
    const op = pos < stop ? joinOperator(t, pos) : -1
    if (op < 0) return { end: pos, join }
    join = true
    if (t[pos] === 'NATURAL') {
      pos = factor(t, op, stop, edits) // a NATURAL join has no condition to wait for
      continue
    }
    const right = chain(t, op, stop, edits)
    pos = right.end
    let condition = false
    if (t[pos] === 'ON') {
      condition = true
      pos = conditionEnd(t, pos + 1, stop)
    } else if (t[pos] === 'USING' && t[pos + 1] === '(') {
      const close = closing(t, pos + 1)
      if (close < 0 || close >= stop) return { end: stop, join }
      condition = true
      pos = close + 1
    }
    if (condition && right.join)
      edits.push({ from: op, to: op, replacement: '(' }, { from: right.end, to: right.end, replacement: ')' })
  }
}

/** A table factor from k: everything up to the next join operator, ON, USING or comma at this level. */
function factor(t: readonly string[], k: number, stop: number, edits: Edit[]): number {
  if (t[k] === '(' && !QUERY_START.has(t[k + 1] ?? '')) {
    // ( t2 JOIN t3 … ): a parenthesized join, which may nest in the same way inside
    const close = closing(t, k)
    if (close > 0 && close < stop) tableReferences(t, k + 1, close, edits, true)
  }
  let depth = 0
  for (let i = k; i < stop; i++) {
    const w = t[i] as string
    if (w === '(') depth++
    else if (w === ')') depth--
    else if (depth === 0 && i > k && (w === 'ON' || w === 'USING' || w === ',' || joinOperator(t, i) > 0))
      return i
  }
  return stop
}

/** The end of an ON condition from k: the next join operator, ON or comma at this level. */
function conditionEnd(t: readonly string[], k: number, stop: number): number {
  let depth = 0
  for (let i = k; i < stop; i++) {
    const w = t[i] as string
    if (w === '(') depth++
    else if (w === ')') depth--
    else if (depth === 0 && (w === 'ON' || w === ',' || joinOperator(t, i) > 0)) return i
  }
  return stop
}
