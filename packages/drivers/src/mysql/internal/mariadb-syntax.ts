// MariaDB statements sqlparser-rs (MySQL dialect) cannot read, rewritten into text it can that
// names the same tables and functions, with what the rewrite hides put back as facts (a statement
// type, a write). Each recognizer is narrow: it works on the lexer's tokens (so never inside a
// string or comment), accepts one exact form, and leaves anything else to the parser, which then
// fails: `parsed: false`. Checked against MariaDB 10.11's mysql-test/main (bench/mysql/corpus.ts).
import type { SqlEffect } from '@warden/policy'
import { type LexResult, lexMysql } from './lexer.js'
import { expressionEdits } from './mariadb-expressions.js'
import { nestedJoinEdits } from './mariadb-joins.js'
import { statementForm } from './mariadb-statements.js'
import { closing, depthAt, type Edit, isName, isNumber, topLevel } from './mariadb-tokens.js'

/** What a rewritten statement is, beyond what the parser reads from its rewritten text. */
export interface PartOverride {
  /** The statement type to report instead of the rewritten text's (`CHECK` for `SELECT 1 FROM …`). */
  readonly type?: string
  readonly write?: boolean
  /** The tables the rewritten text reads are the ones the statement writes (OPTIMIZE/REPAIR TABLE). */
  readonly readsAreWrites?: boolean
  readonly effects?: readonly SqlEffect[]
  /** The statement became this many parser statements (SET STATEMENT … FOR s: the SET, then s). */
  readonly count: 1 | 2
  /** With count 2: what s's own recognizer put back (`SET STATEMENT … FOR BACKUP LOCK t`). */
  readonly inner?: PartOverride
}

export interface Rewritten {
  readonly text: string
  readonly parts: readonly PartOverride[]
}

const ONE: PartOverride = Object.freeze({ count: 1 })

interface Recognized {
  readonly edits: readonly Edit[]
  readonly part: PartOverride
}

/** The text to parse and per statement what the rewrite changed, or undefined when nothing needs rewriting. */
export function rewriteMariadb(text: string, lex: LexResult): Rewritten | undefined {
  let changed = false
  const pieces: string[] = []
  const parts: PartOverride[] = []
  lex.statements.forEach((tokens, i) => {
    const spans = lex.spans[i] ?? []
    const r = recognize(tokens, spans, text)
    if (r === undefined) {
      pieces.push(text.slice(spans[0], spans[spans.length - 1]))
      parts.push(ONE)
      return
    }
    changed = true
    pieces.push(applyEdits(text, spans, r.edits))
    parts.push(r.part)
  })
  return changed ? { text: pieces.join(';\n'), parts } : undefined
}

function applyEdits(text: string, spans: readonly number[], edits: readonly Edit[]): string {
  // Insertions (from === to) before replacements at the same token.
  const sorted = [...edits].sort((a, b) => a.from - b.from || a.to - b.to)
  const start = spans[0] as number
  const end = spans[spans.length - 1] as number
  let out = ''
  let at = start
  let done = 0 // token index the text is copied up to
  for (const e of sorted) {
    // Two recognizers rewriting the same tokens: the later one is dropped, so the tokens stay as
    // the first left them (the parser then reads them, or fails: never a token lost).
    if (e.from < done) continue
    done = e.to
    const from = e.from < spans.length / 2 ? (spans[2 * e.from] as number) : end
    out += text.slice(at, from) + (e.replacement === '' ? ' ' : ` ${e.replacement} `)
    at = e.to < spans.length / 2 ? (spans[2 * e.to] as number) : end
  }
  return out + text.slice(at, end)
}

function recognize(t: readonly string[], spans: readonly number[], text: string): Recognized | undefined {
  const first = t[0]
  const edits: Edit[] = []
  let part: PartOverride = ONE
  // Whole-statement forms.
  if (first === 'CHECK' && t[1] === 'VIEW') {
    // CHECK VIEW v [FOR UPGRADE]: checks a view's definition, as CHECK TABLE does a table's.
    const end = nameEnd(t, 2)
    const rest = t.slice(end).join(' ')
    if (end < 0 || !(rest === '' || rest === 'FOR UPGRADE')) return undefined
    return {
      edits: [whole(t, `SELECT 1 FROM ${text.slice(spans[4], spans[2 * end - 1])}`)],
      part: { count: 1, type: 'CHECK' },
    }
  }
  if ((first === 'CHECK' || first === 'CHECKSUM') && isTableWord(t[1])) {
    return tableCommand({ t, spans, text, type: first, limit: t.length, writes: false })
  }
  if ((first === 'OPTIMIZE' || first === 'REPAIR') && tableStart(t) > 0) {
    return tableCommand({ t, spans, text, type: first, limit: t.length, writes: true })
  }
  if (first === 'ANALYZE' && tableStart(t) > 0) {
    const persistent = t.indexOf('PERSISTENT')
    // PERSISTENT FOR … writes engine-independent statistics (mysql.*_stats), read-only mode or not;
    // what follows it names only columns and indexes.
    const limit = persistent > 0 && t[persistent + 1] === 'FOR' ? persistent : t.length
    return tableCommand({ t, spans, text, type: 'ANALYZE', limit, writes: limit < t.length })
  }
  if (first === 'PREPARE' && t.length === 4 && isName(t[1]) && t[2] === 'FROM' && t[3] === "'") {
    const inner = preparedText(text.slice(spans[6], spans[7]))
    if (inner === undefined) return undefined
    // What the prepared statement's own recognizer put back (a write, its tables as writes, effects) stays.
    const { write, readsAreWrites, effects } = inner.part
    return {
      edits: [whole(t, inner.text)],
      part: { count: 1, type: 'PREPARE', write, readsAreWrites, effects },
    }
  }
  if (first === 'HELP' && t.length === 2 && t[1] === "'")
    return { edits: [whole(t, 'SELECT 1')], part: { count: 1, type: 'HELP' } }
  const form = statementForm(t)
  if (form !== undefined) return { edits: [...form.edits, ...expressionEdits(t, spans)], part: form.part }
  if (first === 'GET') return getDiagnostics(t)
  if (first === 'XA') return xa(t)
  if (first === 'CACHE' && t[1] === 'INDEX') return keyCache(t, spans, text, 2, 'CACHE INDEX')
  if (first === 'LOAD' && t[1] === 'INDEX' && t[2] === 'INTO' && t[3] === 'CACHE')
    return keyCache(t, spans, text, 4, 'LOAD INDEX')
  if ((first === 'RESET' || first === 'FLUSH') && t[1] === 'QUERY' && t[2] === 'CACHE' && t.length === 3)
    return { edits: [whole(t, 'SELECT 1')], part: { count: 1, type: first, effects: ['server_config'] } }
  if (first === 'DROP' && t[1] === 'PREPARE' && t.length === 3 && isName(t[2]))
    return { edits: [{ from: 0, to: 1, replacement: 'DEALLOCATE' }], part: ONE }
  if (first === 'SET' && t[1] === 'NAMES') {
    // SET NAMES cs [COLLATE c], var = …: the NAMES part, then an ordinary SET (flagged lexer_setting).
    let k = 3
    if (t[k] === 'COLLATE' && (isName(t[k + 1]) || t[k + 1] === "'")) k += 2
    if ((isName(t[2]) || t[2] === "'") && t[k] === ',' && k + 1 < t.length)
      return { edits: [{ from: k, to: k + 1, replacement: '; SET' }], part: { count: 2 } }
  }
  if (first === 'BACKUP') return backup(t, spans, text)
  if (first === 'HANDLER') return handler(t, spans, text)
  if (first === 'SET' && t[1] === 'CHARACTER' && t[2] === 'SET' && t.length === 4)
    return { edits: [{ from: 1, to: 3, replacement: 'NAMES' }], part: ONE } // flagged lexer_setting all the same
  if (first === 'SHOW' && t[1] === 'CREATE') {
    const r = showCreate(t, spans, text)
    if (r !== undefined) return r
  }
  if (first === 'UNLOCK' && t[1] === 'TABLE' && t.length === 2)
    return { edits: [{ from: 1, to: 2, replacement: 'TABLES' }], part: ONE }
  if (first === 'FLUSH') {
    // FLUSH [NO_WRITE_TO_BINLOG|LOCAL] TABLE t, … : the parser knows only TABLES.
    const k = t[1] === 'NO_WRITE_TO_BINLOG' || t[1] === 'LOCAL' ? 2 : 1
    if (t[k] === 'TABLE') edits.push({ from: k, to: k + 1, replacement: 'TABLES' })
  }
  if (first === 'SELECT' || first === '(') {
    // SELECT … INTO @a, @b …, (SELECT …) UNION (SELECT …) INTO @a: assigns user variables (INTO OUTFILE/DUMPFILE is not this form).
    const into = topLevel(t, 'INTO', first === '(' ? 0 : 1)
    if (into > 0) {
      let k = into + 1
      while (t[k] === '@' && isName(t[k + 1]) && spans[2 * k + 1] === spans[2 * k + 2]) {
        k += 2
        if (t[k] !== ',') break
        k++
      }
      if (k > into + 1 && t[k - 1] !== ',') edits.push({ from: into, to: k, replacement: '' })
      else if ((t[into + 1] === 'OUTFILE' || t[into + 1] === 'DUMPFILE') && t[into + 2] === "'") {
        // INTO OUTFILE 'f' [export options]: writes a file on the server (flagged into_outfile by
        // the lexer pass); the options are keywords and strings only.
        const end = exportOptionsEnd(t, into + 3)
        edits.push({ from: into, to: end, replacement: '' })
        part = { count: 1, write: true, effects: ['server_file'] }
      }
    }
  }
  if (first === 'DO' && t.length > 1) {
    edits.push({ from: 0, to: 1, replacement: 'SELECT' })
    part = { count: 1, type: 'DO' }
  }
  if (first === 'ANALYZE') {
    // ANALYZE [FORMAT=JSON] stmt runs stmt and reports on it: its facts are stmt's.
    let k = 1
    if (t[1] === 'FORMAT' && t[2] === '=' && t[3] === 'JSON') k = 4
    if (['SELECT', 'WITH', 'INSERT', 'REPLACE', 'UPDATE', 'DELETE', 'VALUES', '('].includes(t[k] ?? ''))
      edits.push({ from: 0, to: k, replacement: '' })
  }
  if (
    (first === 'EXPLAIN' || first === 'DESCRIBE' || first === 'DESC') &&
    (t[1] === 'EXTENDED' || t[1] === 'PARTITIONS')
  )
    edits.push({ from: 1, to: 2, replacement: '' })
  if (first === 'LOCK' && t[1] === 'TABLE') edits.push({ from: 1, to: 2, replacement: 'TABLES' })
  if (first === 'START' && t[1] === 'TRANSACTION') {
    const w = t.indexOf('WITH')
    if (w > 0 && t[w + 1] === 'CONSISTENT' && t[w + 2] === 'SNAPSHOT') {
      const comma = t[w + 3] === ',' ? 1 : w > 2 && t[w - 1] === ',' ? -1 : 0
      edits.push({ from: comma < 0 ? w - 1 : w, to: w + 3 + Math.max(comma, 0), replacement: '' })
    }
  }
  if (first === 'SET' && t[1] === 'STATEMENT') {
    const f = topLevel(t, 'FOR', 2)
    if (f < 0) return undefined
    edits.push({ from: 1, to: 2, replacement: '' }, { from: f, to: f + 1, replacement: ';' })
    part = { count: 2 }
    // s recognized on its own (DO, BACKUP, PREPARE, …): its edits and what it put back.
    const inner = recognize(t.slice(f + 1), spans.slice(2 * (f + 1)), text)
    if (inner !== undefined) {
      // A prepared text is lexed when it runs, under the SET's sql_mode or character set: not as read here.
      const lexing = t.slice(2, f).some((w) => w === 'SQL_MODE' || w.startsWith('CHARACTER_SET'))
      if (inner.part.count !== 1 || (lexing && t[f + 1] === 'PREPARE')) return undefined
      const shifted = inner.edits.map((e) => ({ ...e, from: e.from + f + 1, to: e.to + f + 1 }))
      return { edits: [...edits, ...shifted], part: { count: 2, inner: inner.part } }
    }
  }
  for (let k = 1; k < t.length; k++) {
    const w = t[k]
    if (
      w === '(' &&
      (t[k - 1] === 'FROM' || t[k - 1] === 'JOIN' || t[k - 1] === 'STRAIGHT_JOIN') &&
      t[k - 2] !== 'FOR' // USE INDEX FOR JOIN (i): index names
    ) {
      // FROM (t1, t2 AS b), LEFT JOIN (t3, t4) ON …: a parenthesized list of tables, as cross joins.
      const r = tableList(t, k)
      if (r !== undefined) edits.push(...r)
    } else if (
      w === 'MOD' &&
      t[k - 1] !== '.' &&
      t[k - 1] !== 'AS' &&
      (t[k + 1] !== '(' || isNumber(t[k - 1]) || t[k - 1] === ')' || t[k - 1] === "'")
    )
      edits.push({ from: k, to: k + 1, replacement: '%' }) // `a MOD b`, `2 MOD (b)`: the operator
    else if (w === 'SOUNDS' && t[k + 1] === 'LIKE')
      edits.push({ from: k, to: k + 2, replacement: '=' }) // SOUNDEX(a) = SOUNDEX(b): the same operands
    else if (w === '!' && !(t[k + 1] === '=' && spans[2 * k + 1] === spans[2 * k + 2]))
      edits.push({ from: k, to: k + 1, replacement: 'NOT' }) // `!x` (only its precedence differs)
    else if (
      w === 'CHARACTER' &&
      t[k + 1] === 'SET' &&
      (isName(t[k + 2]) || t[k + 2] === "'") &&
      (t[k - 1] === 'CHAR' || t[k - 1] === 'BINARY'
        ? t[k - 2] === 'AS'
        : t[k - 1] === ')' &&
          isNumber(t[k - 2]) &&
          t[k - 3] === '(' &&
          t[k - 4] === 'CHAR' &&
          t[k - 5] === 'AS')
    )
      edits.push({ from: k, to: k + 3, replacement: '' }) // CAST(x AS CHAR[(n)] CHARACTER SET cs)
    else if (COMPOUND_UNITS.has(w as string) && t[k - 1] !== '.')
      edits.push({ from: k, to: k + 1, replacement: 'SECOND' }) // reserved words: never a name
    else if (w === 'INTERVAL' && t[k + 1] === '(' && t[k - 1] !== '.') {
      // INTERVAL(n, n1, …), the function (a comma inside), not INTERVAL (expr) unit.
      const close = closing(t, k + 1)
      if (close > 0 && topLevel(t.slice(0, close), ',', k + 2) > 0)
        edits.push({ from: k, to: k + 1, replacement: '`interval`' })
    } else if (w === 'MATCH' && t[k + 1] !== '(') {
      // MATCH a, t.b AGAINST (…) → MATCH (a, t.b) AGAINST (…)
      let j = k + 1
      for (;;) {
        const end = nameEnd(t, j)
        if (end < 0) break
        j = end
        if (t[j] === '.' && isName(t[j + 1])) j += 2
        if (t[j] !== ',') break
        j++
      }
      if (j > k + 1 && t[j] === 'AGAINST' && t[j - 1] !== ',')
        edits.push(
          { from: k, to: k + 1, replacement: 'MATCH (' },
          { from: j, to: j + 1, replacement: ') AGAINST' },
        )
    } else if (DYNAMIC_COLUMN_FUNCTIONS.has(w as string) && t[k + 1] === '(' && t[k - 1] !== '.') {
      const r = dynamicColumnTypes(t, k + 1)
      if (r === undefined) return undefined
      edits.push(...r)
    } else if (w === 'CHAR' && t[k + 1] === '(' && t[k - 1] !== 'AS') {
      // CHAR(n, … USING charset): the character set names no table or function.
      const close = closing(t, k + 1)
      if (close > 0 && t[close - 2] === 'USING' && isName(t[close - 1]) && depthAt(t, k + 1, close - 2) === 1)
        edits.push({ from: close - 2, to: close, replacement: '' })
    } else if (w === ':' && t[k + 1] === '=' && spans[2 * k + 1] === spans[2 * k + 2])
      edits.push({ from: k, to: k + 2, replacement: '=' }) // `@v := x` assigns; `=` reads the same names
    else if (w === 'WITH' && t[k + 1] === 'ROLLUP' && ROLLUP_FOLLOWERS.has(t[k + 2] ?? ''))
      edits.push({ from: k, to: k + 2, replacement: '' })
    else if (w === 'ROWS' && t[k + 1] === 'EXAMINED' && isNumber(t[k + 2])) {
      const bare = t[k - 1] === 'LIMIT'
      edits.push({ from: bare ? k - 1 : k, to: k + 3, replacement: '' })
    } else if (w === 'LOCK' && t[k + 1] === 'IN' && t[k + 2] === 'SHARE' && t[k + 3] === 'MODE')
      edits.push({ from: k, to: k + 4, replacement: 'FOR SHARE' })
    else if ((w === 'NEXT' || w === 'PREVIOUS') && t[k + 1] === 'VALUE' && t[k + 2] === 'FOR') {
      const end = nameEnd(t, k + 3)
      if (end < 0) return undefined
      const name = text.slice(spans[2 * (k + 3)], spans[2 * end - 1])
      edits.push({ from: k, to: end, replacement: `${w === 'NEXT' ? 'nextval' : 'lastval'}(${name})` })
    }
  }
  edits.push(...expressionEdits(t, spans), ...nestedJoinEdits(t))
  if (edits.length === 0 && part === ONE) return undefined
  return { edits, part }
}

/** MariaDB's compound interval units (reserved words), which the parser does not know. */
const COMPOUND_UNITS = new Set([
  'DAY_HOUR',
  'DAY_MINUTE',
  'DAY_SECOND',
  'DAY_MICROSECOND',
  'HOUR_MINUTE',
  'HOUR_SECOND',
  'HOUR_MICROSECOND',
  'MINUTE_SECOND',
  'MINUTE_MICROSECOND',
  'SECOND_MICROSECOND',
  'YEAR_MONTH',
])
/** Dynamic-column functions whose arguments carry `AS type`. */
const DYNAMIC_COLUMN_FUNCTIONS = new Set(['COLUMN_GET', 'COLUMN_CREATE', 'COLUMN_ADD', 'COLUMN_JSON'])
/** The words a dynamic column's `AS type` may have. */
const TYPE_WORD = /^[A-Z][A-Z0-9_]*$/

/**
 * `COLUMN_GET(blob, n AS type)`, `COLUMN_CREATE(n, v AS type, …)`: edits removing each `AS type` of
 * the call whose `(` is at k (a type is words, and numbers in parentheses right after its first word:
 * `CHAR CHARACTER SET latin1`, `DECIMAL(10, 2)`); undefined when an `AS` is followed by anything else.
 */
function dynamicColumnTypes(t: readonly string[], k: number): Edit[] | undefined {
  const close = closing(t, k)
  if (close < 0) return undefined
  const edits: Edit[] = []
  let depth = 0
  for (let i = k; i < close; i++) {
    if (t[i] === '(') depth++
    else if (t[i] === ')') depth--
    else if (depth === 1 && t[i] === 'AS') {
      let j = i + 1
      let inner = 0
      if (!TYPE_WORD.test(t[j] ?? '')) return undefined
      for (; j < close; j++) {
        const w = t[j] as string
        if (w === '(' && j === i + 2) inner++
        else if (w === ')' && inner === 1) inner--
        else if (w === ',' && inner === 0) break
        // words outside parentheses, only numbers and commas inside: DECIMAL(10, 2), never a query
        else if (!(inner === 0 ? TYPE_WORD.test(w) : isNumber(w) || w === ',')) return undefined
      }
      if (j === i + 1 || inner !== 0) return undefined
      edits.push({ from: i, to: j, replacement: '' })
      i = j - 1
    }
  }
  return edits
}

/**
 * `GET [CURRENT|STACKED] DIAGNOSTICS [CONDITION n|@v] @a = ITEM, …`: reads the diagnostics area
 * into user variables, nothing else.
 */
function getDiagnostics(t: readonly string[]): Recognized | undefined {
  let k = 1
  if (t[k] === 'CURRENT' || t[k] === 'STACKED') k++
  if (t[k++] !== 'DIAGNOSTICS') return undefined
  if (t[k] === 'CONDITION') {
    // a literal: n, n.n (MariaDB truncates it), 'n', NULL; or a user variable
    if (isNumber(t[k + 1])) k += t[k + 2] === '.' && isNumber(t[k + 3]) ? 4 : 2
    else if (t[k + 1] === "'" || t[k + 1] === 'NULL') k += 2
    else if (t[k + 1] === '@' && isName(t[k + 2])) k += 3
    else return undefined
  }
  for (;;) {
    if (!(t[k] === '@' && isName(t[k + 1]) && t[k + 2] === '=' && TYPE_WORD.test(t[k + 3] ?? '')))
      return undefined
    k += 4
    if (k === t.length) break
    if (t[k++] !== ',') return undefined
  }
  return { edits: [whole(t, 'SELECT 1')], part: { count: 1, type: 'GET DIAGNOSTICS' } }
}

/**
 * `XA START|BEGIN xid [JOIN|RESUME]`, `XA END xid [SUSPEND [FOR MIGRATE]]`, `XA PREPARE xid`,
 * `XA COMMIT xid [ONE PHASE]`, `XA ROLLBACK xid`, `XA RECOVER [FORMAT='RAW'|'SQL']`, where xid is
 * 'gtrid' [, 'bqual' [, formatID]]: type `XA`, effect `transaction_control`. An XA transaction takes
 * the session's access mode like any other (a reader's is read-only); the driver reads the state
 * back from the server after each.
 */
function xa(t: readonly string[]): Recognized | undefined {
  const verb = t[1]
  let k = 2
  if (verb === 'RECOVER') {
    if (t[k] === 'FORMAT' && t[k + 1] === '=' && t[k + 2] === "'") k += 3
  } else if (['START', 'BEGIN', 'END', 'PREPARE', 'COMMIT', 'ROLLBACK'].includes(verb ?? '')) {
    if (t[k++] !== "'") return undefined
    if (t[k] === ',' && t[k + 1] === "'") {
      k += 2
      if (t[k] === ',' && isNumber(t[k + 1])) k += 2
    }
    const rest = t.slice(k).join(' ')
    const tails: Record<string, readonly string[]> = {
      START: ['', 'JOIN', 'RESUME'],
      BEGIN: ['', 'JOIN', 'RESUME'],
      END: ['', 'SUSPEND', 'SUSPEND FOR MIGRATE'],
      COMMIT: ['', 'ONE PHASE'],
    }
    if (!(tails[verb as string] ?? ['']).includes(rest)) return undefined
    k = t.length
  } else return undefined
  if (k !== t.length) return undefined
  return { edits: [whole(t, 'SELECT 1')], part: { count: 1, type: 'XA', effects: ['transaction_control'] } }
}

/** `( a, b, … )` or `(ALL)` at k (names only): the index after `)`, or -1. */
function nameGroup(t: readonly string[], k: number): number {
  if (t[k] !== '(') return -1
  let i = k + 1
  if (t[i] === 'ALL' && t[i + 1] === ')') return i + 2
  for (;;) {
    if (!isName(t[i])) return -1
    i++
    if (t[i] === ')') return i + 1
    if (t[i++] !== ',') return -1
  }
}

/**
 * `CACHE INDEX t [PARTITION (…)] [INDEX|KEY (…)], … IN cache` and `LOAD INDEX INTO CACHE t
 * [PARTITION (…)] [INDEX|KEY (…)] [IGNORE LEAVES], …`: MyISAM key-cache assignment and preload
 * (server state: effect server_config), reading the tables' indexes; names only.
 */
function keyCache(
  t: readonly string[],
  spans: readonly number[],
  text: string,
  k: number,
  type: string,
): Recognized | undefined {
  const names: string[] = []
  let i = k
  for (;;) {
    const end = nameEnd(t, i)
    if (end < 0) return undefined
    names.push(text.slice(spans[2 * i], spans[2 * end - 1]))
    i = end
    for (;;) {
      if (t[i] === 'PARTITION' || t[i] === 'INDEX' || t[i] === 'KEY') i = nameGroup(t, i + 1)
      else if (type === 'LOAD INDEX' && t[i] === 'IGNORE' && t[i + 1] === 'LEAVES') i += 2
      else break
      if (i < 0) return undefined
    }
    if (t[i] !== ',') break
    i++
  }
  if (type === 'CACHE INDEX') {
    if (t[i] !== 'IN' || !isName(t[i + 1])) return undefined
    i += 2
  }
  if (i !== t.length) return undefined
  return {
    edits: [whole(t, `SELECT 1 FROM ${names.join(', ')}`)],
    part: { count: 1, type, effects: ['server_config'] },
  }
}

const NOT_A_TABLE = new Set([
  'SELECT',
  'WITH',
  'VALUES',
  'TABLE',
  'AS',
  'ON',
  'USING',
  'JOIN',
  'LEFT',
  'RIGHT',
])

/**
 * `( a [[AS] x], db.b [[AS] y], … )` at k, nothing else inside: edits making the commas cross
 * joins (one table: the parentheses go). Undefined for anything else (a subquery, a nested join).
 */
function tableList(t: readonly string[], k: number): Edit[] | undefined {
  // ((t1 a)): one table in several parentheses
  let depth = 0
  while (t[k + depth] === '(') depth++
  if (depth > 1) {
    const end = nameEnd(t, k + depth)
    if (end < 0 || NOT_A_TABLE.has(t[k + depth] ?? '')) return undefined
    let i = end
    if (t[i] === 'AS') i++
    if (t[i] !== ')' && isName(t[i]) && !NOT_A_TABLE.has(t[i] ?? '')) i++
    for (let d = 0; d < depth; d++) if (t[i + d] !== ')') return undefined
    const edits: Edit[] = []
    for (let d = 0; d < depth; d++)
      edits.push(
        { from: k + d, to: k + d + 1, replacement: '' },
        { from: i + d, to: i + d + 1, replacement: '' },
      )
    return edits
  }
  const edits: Edit[] = []
  let i = k + 1
  for (;;) {
    if (NOT_A_TABLE.has(t[i] ?? '')) return undefined
    const end = nameEnd(t, i)
    if (end < 0) return undefined
    i = end
    if (t[i] === 'AS') i++
    if (t[i] !== ',' && t[i] !== ')') {
      if (!isName(t[i]) || NOT_A_TABLE.has(t[i] ?? '')) return undefined
      i++
    }
    if (t[i] === ')') break
    if (t[i] !== ',') return undefined
    edits.push({ from: i, to: i + 1, replacement: 'CROSS JOIN' })
    i++
  }
  if (edits.length === 0)
    return [
      { from: k, to: k + 1, replacement: '' },
      { from: i, to: i + 1, replacement: '' },
    ]
  return edits
}

/** The end (exclusive) of `[CHARACTER SET cs] [FIELDS|COLUMNS …] [LINES …]` from k (SELECT … INTO OUTFILE). */
function exportOptionsEnd(t: readonly string[], k: number): number {
  let i = k
  if (t[i] === 'CHARACTER' && t[i + 1] === 'SET' && (isName(t[i + 2]) || t[i + 2] === "'")) i += 3
  if (t[i] === 'FIELDS' || t[i] === 'COLUMNS') {
    i++
    for (;;) {
      if (t[i] === 'TERMINATED' && t[i + 1] === 'BY' && t[i + 2] === "'") i += 3
      else if (t[i] === 'OPTIONALLY' && t[i + 1] === 'ENCLOSED' && t[i + 2] === 'BY' && t[i + 3] === "'")
        i += 4
      else if ((t[i] === 'ENCLOSED' || t[i] === 'ESCAPED') && t[i + 1] === 'BY' && t[i + 2] === "'") i += 3
      else break
    }
  }
  if (t[i] === 'LINES') {
    i++
    while ((t[i] === 'STARTING' || t[i] === 'TERMINATED') && t[i + 1] === 'BY' && t[i + 2] === "'") i += 3
  }
  return i
}

const BACKUP_STAGES = new Set(['START', 'FLUSH', 'BLOCK_DDL', 'BLOCK_COMMIT', 'END'])

/**
 * `BACKUP STAGE START|FLUSH|BLOCK_DDL|BLOCK_COMMIT|END`, `BACKUP LOCK t`, `BACKUP UNLOCK`: MariaDB's
 * backup locks (they block DDL or every commit on the server): type `BACKUP`, effect `lock`, a write.
 */
function backup(t: readonly string[], spans: readonly number[], text: string): Recognized | undefined {
  const part: PartOverride = { count: 1, type: 'BACKUP', write: true, effects: ['lock'] }
  if (t[1] === 'STAGE' && BACKUP_STAGES.has(t[2] ?? '') && t.length === 3)
    return { edits: [whole(t, 'SELECT 1')], part }
  if (t[1] === 'UNLOCK' && t.length === 2) return { edits: [whole(t, 'SELECT 1')], part }
  if (t[1] === 'LOCK') {
    const end = nameEnd(t, 2)
    if (end < 0 || end !== t.length) return undefined
    return { edits: [whole(t, `SELECT 1 FROM ${text.slice(spans[4], spans[2 * end - 1])}`)], part }
  }
  return undefined
}

const HANDLER_READS = new Set(['FIRST', 'NEXT', 'PREV', 'LAST'])

/**
 * `HANDLER t OPEN [[AS] alias]`, `HANDLER h CLOSE`, `HANDLER h READ [index] FIRST|NEXT|PREV|LAST
 * [LIMIT n[, m]]` (no WHERE, no key values: nothing but names and numbers): type `HANDLER`, reads the
 * table (or the handler's name); flagged `handler` by the lexer pass.
 */
function handler(t: readonly string[], spans: readonly number[], text: string): Recognized | undefined {
  const end = nameEnd(t, 1)
  if (end < 0) return undefined
  let k = end
  if (t[k] === 'OPEN') {
    k++
    if (t[k] === 'AS') k++
    if (k < t.length && isName(t[k])) k++
  } else if (t[k] === 'CLOSE') k++
  else if (t[k] === 'READ') {
    k++
    if (!HANDLER_READS.has(t[k] ?? '') && isName(t[k])) k++
    if (!HANDLER_READS.has(t[k] ?? '')) return undefined
    k++
    if (t[k] === 'LIMIT' && isNumber(t[k + 1])) {
      k += 2
      if (t[k] === ',' && isNumber(t[k + 1])) k += 2
    }
  } else return undefined
  if (k !== t.length) return undefined
  const name = text.slice(spans[2], spans[2 * end - 1])
  return { edits: [whole(t, `SELECT 1 FROM ${name}`)], part: { count: 1, type: 'HANDLER' } }
}

/**
 * `SHOW CREATE DATABASE|SCHEMA [IF NOT EXISTS] db` (→ `SHOW DATABASES`: names no table) and
 * `SHOW CREATE SEQUENCE s` (→ `SHOW CREATE TABLE s`: a sequence is a table).
 */
function showCreate(t: readonly string[], spans: readonly number[], text: string): Recognized | undefined {
  if (t[2] === 'DATABASE' || t[2] === 'SCHEMA') {
    let k = 3
    if (t[k] === 'IF' && t[k + 1] === 'NOT' && t[k + 2] === 'EXISTS') k += 3
    if (isName(t[k]) && k + 1 === t.length)
      return { edits: [whole(t, 'SHOW DATABASES')], part: { count: 1, type: 'SHOW' } }
    return undefined
  }
  if (t[2] === 'USER') {
    // SHOW CREATE USER name[@host] | CURRENT_USER[()]: an account's definition, no table.
    let k = 3
    if (t[k] === 'CURRENT_USER') k += t[k + 1] === '(' && t[k + 2] === ')' ? 3 : 1
    else if (isName(t[k]) || t[k] === "'") {
      k++
      if (t[k] === '@' && (isName(t[k + 1]) || t[k + 1] === "'")) k += 2
    }
    if (k > 3 && k === t.length)
      return { edits: [whole(t, 'SHOW DATABASES')], part: { count: 1, type: 'SHOW' } }
    return undefined
  }
  if (t[2] === 'SEQUENCE') {
    const end = nameEnd(t, 3)
    if (end < 0 || end !== t.length) return undefined
    return { edits: [whole(t, `SHOW CREATE TABLE ${text.slice(spans[6], spans[2 * end - 1])}`)], part: ONE }
  }
  return undefined
}

const ROLLUP_FOLLOWERS = new Set([
  '',
  ')',
  'HAVING',
  'ORDER',
  'LIMIT',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'WINDOW',
  'INTO',
  'FOR',
  'LOCK',
  'PROCEDURE',
])
const CHECK_OPTIONS: Record<string, readonly string[]> = {
  CHECK: ['FOR', 'UPGRADE', 'QUICK', 'FAST', 'MEDIUM', 'EXTENDED', 'CHANGED'],
  CHECKSUM: ['QUICK', 'EXTENDED'],
  REPAIR: ['QUICK', 'EXTENDED', 'USE_FRM', 'FORCE'],
  OPTIMIZE: [],
  ANALYZE: [],
}

const isTableWord = (w: string | undefined) => w === 'TABLE' || w === 'TABLES'

/** `OPTIMIZE [NO_WRITE_TO_BINLOG|LOCAL] TABLE`: the index of TABLE, or -1. */
function tableStart(t: readonly string[]): number {
  if (isTableWord(t[1])) return 1
  if ((t[1] === 'NO_WRITE_TO_BINLOG' || t[1] === 'LOCAL') && isTableWord(t[2])) return 2
  return -1
}

/** The end (exclusive) of a name `a`, `a.b`, `` `a`.`b` `` starting at k, or -1. */
function nameEnd(t: readonly string[], k: number): number {
  if (!isName(t[k])) return -1
  let end = k + 1
  if (t[end] === '.' && isName(t[end + 1])) end += 2
  return end
}

function whole(t: readonly string[], replacement: string): Edit {
  return { from: 0, to: t.length, replacement }
}

/**
 * `CHECK|CHECKSUM|ANALYZE|OPTIMIZE|REPAIR TABLE a, db.b [options]` → `SELECT 1 FROM a, db.b`,
 * reported with its own type (and, for OPTIMIZE/REPAIR, the tables as written).
 */
function tableCommand(input: {
  t: readonly string[]
  spans: readonly number[]
  text: string
  type: string
  /** Tokens from here on are not read (ANALYZE … PERSISTENT FOR …). */
  limit: number
  writes: boolean
}): Recognized | undefined {
  const { t, spans, text, type, limit, writes } = input
  const options = CHECK_OPTIONS[type] ?? []
  const start = tableStart(t) + 1
  const names: string[] = []
  let k = start
  for (;;) {
    const end = nameEnd(t, k)
    if (end < 0) return undefined
    names.push(text.slice(spans[2 * k], spans[2 * end - 1]))
    k = end
    if (t[k] !== ',') break
    k++
  }
  for (; k < limit; k++) if (!options.includes(t[k] as string)) return undefined
  const override: PartOverride =
    type === 'OPTIMIZE' || type === 'REPAIR'
      ? { count: 1, type, write: true, readsAreWrites: true }
      : { count: 1, type, write: writes || undefined }
  return { edits: [whole(t, `SELECT 1 FROM ${names.join(', ')}`)], part: override }
}

/**
 * The statement a `PREPARE s FROM '…'` literal holds, rewritten for the parser if needed, with what
 * its rewrite put back; undefined unless it is exactly one statement the lexer reads cleanly (no
 * executable comment) and one parser statement.
 */
function preparedText(literal: string): { text: string; part: PartOverride } | undefined {
  const inner = unquote(literal)
  const lex = lexMysql(inner)
  if (lex.error !== '' || lex.statements.length !== 1) return undefined
  const rewritten = rewriteMariadb(inner, lex)
  if (rewritten === undefined) return { text: inner, part: ONE }
  const part = rewritten.parts[0]
  return part?.count === 1 ? { text: rewritten.text, part } : undefined
}

const ESCAPES: Record<string, string> = {
  '0': '\0',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\x1a',
  '%': '\\%',
  _: '\\_',
}

/** A MySQL string literal's value (backslash escapes, doubled quotes). */
function unquote(literal: string): string {
  const q = literal[0] as string
  let out = ''
  for (let i = 1; i < literal.length - 1; i++) {
    const c = literal[i] as string
    if (c === '\\') {
      const next = literal[++i] as string
      out += ESCAPES[next] ?? next
    } else if (c === q && literal[i + 1] === q) {
      out += q
      i++
    } else out += c
  }
  return out
}
