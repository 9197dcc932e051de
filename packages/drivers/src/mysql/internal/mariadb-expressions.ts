// MariaDB expression syntax sqlparser-rs (MySQL dialect) cannot read, rewritten on the lexer's
// tokens into expressions it can that keep every name: what is dropped is only ever words from a
// closed list, numbers and strings (a type, a sort direction, a character set), never something
// that could name a table, a function or a variable. Anything that does not match exactly is left
// as it is, and the parser then fails on it: `parsed: false`.
import { adjacent, closing, depthAt, type Edit, isName, isNumber, topLevel } from './mariadb-tokens.js'

/** Types a CAST/CONVERT target may start with that the parser reads on their own. */
const CAST_TYPES = new Set([
  'CHAR',
  'NCHAR',
  'BINARY',
  'SIGNED',
  'UNSIGNED',
  'DECIMAL',
  'DOUBLE',
  'FLOAT',
  'DATE',
  'DATETIME',
  'TIME',
  'INT',
  'INTEGER',
])
/** Words a type may go on with: `SIGNED INT`, `CHAR(10) BINARY`, `CHARSET utf8 COLLATE DEFAULT`. */
const TYPE_WORD = /^[A-Z][A-Z0-9_]*$/
/** Words of WEIGHT_STRING's `AS CHAR(n)` and `LEVEL 1-2 DESC REVERSE`. */
const WEIGHT_WORDS = new Set(['AS', 'CHAR', 'BINARY', 'LEVEL', 'ASC', 'DESC', 'REVERSE'])
/** What may end a GROUP BY list (`GROUP BY a DESC` is MariaDB's, the parser has no direction there). */
const GROUP_BY_END = new Set([
  'HAVING',
  'ORDER',
  'LIMIT',
  'WITH',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'WINDOW',
  'INTO',
  'FOR',
  'LOCK',
  'PROCEDURE',
])
const QUERY_START = new Set(['SELECT', 'WITH', 'VALUES'])
const INDEX_HINTS = new Set(['USE', 'IGNORE', 'FORCE'])
const INTRODUCER = /^_[A-Z0-9]+$/
const HEX_OR_BIT = /^0X[0-9A-F]+$|^0B[01]+$/
/** Tokens after which `@` starts an expression (a user variable), never `user@host`. */
const BEFORE_VARIABLE = new Set([',', '(', '=', 'SELECT', 'SET'])

/** Edits for the expression forms in one statement's tokens (none when there are none). */
export function expressionEdits(t: readonly string[], spans: readonly number[]): Edit[] {
  const edits: Edit[] = []
  let variables = 0
  for (let k = 1; k < t.length; k++) {
    const w = t[k] as string
    const call = t[k + 1] === '(' && t[k - 1] !== '.'
    if (call && (w === 'CAST' || w === 'CONVERT')) {
      const e = castType(t, k + 1, w)
      if (e !== undefined) edits.push(e)
    } else if (call && w === 'WEIGHT_STRING') {
      const e = weightString(t, k + 1)
      if (e !== undefined) edits.push(e)
    } else if (
      call &&
      w === 'TRIM' &&
      /^(LEADING|TRAILING|BOTH)$/.test(t[k + 2] ?? '') &&
      t[k + 3] === 'FROM'
    ) {
      edits.push({ from: k + 2, to: k + 4, replacement: '' }) // TRIM(LEADING FROM s): spaces, as TRIM(s)
    } else if (call && w === 'GROUP_CONCAT') {
      const e = groupConcatLimit(t, k + 1)
      if (e !== undefined) edits.push(e)
    } else if (w === 'ESCAPE' && afterLike(t, k) && escapesExpression(t, k + 1)) {
      // LIKE … ESCAPE (expr) / ESCAPE f(x): the parser takes a literal only; `AND expr` keeps expr's names.
      edits.push({ from: k, to: k + 1, replacement: 'AND' })
    } else if (INTRODUCER.test(w) && t[k - 1] !== '.' && introduced(t, spans, k + 1)) {
      edits.push({ from: k, to: k + 1, replacement: '' }) // _latin1 0x7E: the character set of a literal
    } else if (w === 'IN' && t[k + 1] === '(' && t[k + 2] === '(' && QUERY_START.has(t[k + 3] ?? '')) {
      // IN ((SELECT …), (SELECT …)): a list of scalar subqueries; `0 +` makes the first an expression.
      const close = closing(t, k + 1)
      if (close > 0 && topLevel(t.slice(0, close), ',', k + 2) > 0)
        edits.push({ from: k + 2, to: k + 2, replacement: '0 +' })
    } else if (w === '{' && t[k + 1] === 'OJ') {
      // ODBC { OJ t1 LEFT OUTER JOIN t2 ON … }: the join itself
      const end = t.indexOf('}', k + 2)
      if (end > 0 && !t.slice(k + 2, end).includes('{'))
        edits.push({ from: k, to: k + 2, replacement: '' }, { from: end, to: end + 1, replacement: '' })
    } else if (
      w === '@' &&
      (t[k + 1] === '`' || t[k + 1] === "'") &&
      adjacent(spans, k) &&
      BEFORE_VARIABLE.has(t[k - 1] as string) &&
      t[k - 1] !== '@'
    ) {
      // @`a b`, @"x": a user variable with a quoted name, which names nothing else
      edits.push({ from: k, to: k + 2, replacement: `@warden_quoted_variable_${++variables}` })
    } else if (w === 'GROUP' && t[k + 1] === 'BY') {
      edits.push(...groupByDirections(t, k + 2))
    } else if (
      w === 'FOR' &&
      (t[k - 1] === 'INDEX' || t[k - 1] === 'KEY') &&
      INDEX_HINTS.has(t[k - 2] as string)
    ) {
      // USE INDEX FOR JOIN|ORDER BY|GROUP BY (i): what the hint is for; the index names stay
      const end =
        t[k + 1] === 'JOIN' ? k + 2 : t[k + 2] === 'BY' && /^(ORDER|GROUP)$/.test(t[k + 1] ?? '') ? k + 3 : -1
      if (end > 0 && t[end] === '(') edits.push({ from: k, to: end, replacement: '' })
    } else if (w === '\\' && t[k + 1] === 'N' && adjacent(spans, k)) {
      edits.push({ from: k, to: k + 2, replacement: 'NULL' }) // \N is NULL outside strings
    } else if (w === 'CYCLE' && t[k - 1] === ')') {
      // WITH RECURSIVE cte AS (…) CYCLE a, b RESTRICT: column names only
      let i = k + 1
      while (isName(t[i]) && t[i] !== 'RESTRICT') {
        i++
        if (t[i] !== ',') break
        i++
      }
      if (i > k + 1 && t[i] === 'RESTRICT' && t[i - 1] !== ',')
        edits.push({ from: k, to: i + 1, replacement: '' })
    }
  }
  return edits
}

/**
 * CAST(x AS type) / CONVERT(x, type) whose type the parser does not read (`SIGNED INT`, `CHAR(10)
 * BINARY`, `CHAR CHARSET utf8 COLLATE DEFAULT`, `INTERVAL DAY_SECOND(6)`): the type becomes its
 * first word with its size (`INTERVAL …` becomes CHAR). A type is words, strings and numbers in
 * parentheses only, so the edit drops no name; undefined when the parser reads it as it is.
 */
function castType(t: readonly string[], open: number, fn: string): Edit | undefined {
  const close = closing(t, open)
  if (close < 0) return undefined
  const at = fn === 'CAST' ? topLevelIn(t, 'AS', open, close) : lastTopLevelIn(t, ',', open, close)
  if (at < 0) return undefined
  const first = t[at + 1] as string
  let i = at + 2
  let size = ''
  if (t[i] === '(') {
    const end = numbersIn(t, i)
    if (end < 0) return undefined
    size = t.slice(i, end + 1).join('')
    i = end + 1
  }
  const rest = i
  for (; i < close; i++) {
    const x = t[i] as string
    if (x === '(') {
      i = numbersIn(t, i)
      if (i < 0) return undefined
    } else if (!(TYPE_WORD.test(x) || x === "'")) return undefined
  }
  if (first === 'INTERVAL') return { from: at + 1, to: close, replacement: 'CHAR' }
  if (!CAST_TYPES.has(first) || rest === close) return undefined
  return { from: at + 1, to: close, replacement: `${first}${size}` }
}

/** `( n [, n] )` at k: the index of `)`, or -1 for anything else. */
function numbersIn(t: readonly string[], k: number): number {
  let i = k + 1
  if (!isNumber(t[i])) return -1
  i++
  if (t[i] === ',' && isNumber(t[i + 1])) i += 2
  return t[i] === ')' ? i : -1
}

function topLevelIn(t: readonly string[], word: string, open: number, close: number): number {
  for (let i = open + 1; i < close; i++) if (t[i] === word && depthAt(t, open, i) === 1) return i
  return -1
}

function lastTopLevelIn(t: readonly string[], word: string, open: number, close: number): number {
  for (let i = close - 1; i > open; i--) if (t[i] === word && depthAt(t, open, i) === 1) return i
  return -1
}

/** WEIGHT_STRING(s AS CHAR(n) LEVEL 1-2 DESC): the clauses after s, words and numbers only. */
function weightString(t: readonly string[], open: number): Edit | undefined {
  const close = closing(t, open)
  if (close < 0) return undefined
  const as = topLevelIn(t, 'AS', open, close)
  const level = topLevelIn(t, 'LEVEL', open, close)
  const from = as > 0 && (level < 0 || as < level) ? as : level
  if (from < 0) return undefined
  for (let i = from; i < close; i++) {
    const x = t[i] as string
    if (!(WEIGHT_WORDS.has(x) || isNumber(x) || x === '(' || x === ')' || x === ',' || x === '-'))
      return undefined
  }
  return { from, to: close, replacement: '' }
}

/** GROUP_CONCAT(… LIMIT n[, m] | LIMIT n OFFSET m): the limit, numbers only. */
function groupConcatLimit(t: readonly string[], open: number): Edit | undefined {
  const close = closing(t, open)
  if (close < 0) return undefined
  const limit = topLevelIn(t, 'LIMIT', open, close)
  if (limit < 0 || !isNumber(t[limit + 1])) return undefined
  let i = limit + 2
  if ((t[i] === ',' || t[i] === 'OFFSET') && isNumber(t[i + 1])) i += 2
  return i === close ? { from: limit, to: close, replacement: '' } : undefined
}

/** `a LIKE b ESCAPE`, b one literal or name (`_cs'x'` too): ESCAPE ends a LIKE, not a call `escape(…)`. */
function afterLike(t: readonly string[], k: number): boolean {
  const operand = (w: string | undefined) => w === "'" || isNumber(w) || isName(w)
  if (t[k - 2] === 'LIKE' && operand(t[k - 1])) return true
  return t[k - 3] === 'LIKE' && INTRODUCER.test(t[k - 2] ?? '') && t[k - 1] === "'"
}

/** ESCAPE followed by a parenthesized expression, a call or an introduced literal (not a plain literal). */
function escapesExpression(t: readonly string[], k: number): boolean {
  const w = t[k] ?? ''
  return w === '(' || (TYPE_WORD.test(w) && t[k + 1] === '(') || INTRODUCER.test(w)
}

/** A hex or bit literal at k: `0x7E`, `X'7E'`, `b'01'`. */
function introduced(t: readonly string[], spans: readonly number[], k: number): boolean {
  if (HEX_OR_BIT.test(t[k] ?? '')) return true
  return (t[k] === 'X' || t[k] === 'B') && t[k + 1] === "'" && adjacent(spans, k)
}

/** `GROUP BY a DESC, b ASC`: the directions of the list starting at k (its own parenthesis level). */
function groupByDirections(t: readonly string[], k: number): Edit[] {
  const edits: Edit[] = []
  let depth = 0
  for (let i = k; i < t.length; i++) {
    const x = t[i] as string
    if (x === '(') depth++
    else if (x === ')' && --depth < 0) break
    else if (depth === 0 && (GROUP_BY_END.has(x) || x === ';')) break
    else if (depth === 0 && (x === 'ASC' || x === 'DESC')) {
      const next = t[i + 1]
      if (next === undefined || next === ',' || next === ')' || GROUP_BY_END.has(next))
        edits.push({ from: i, to: i + 1, replacement: '' })
    }
  }
  return edits
}
