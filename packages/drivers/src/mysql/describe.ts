import type { SqlEffect, SqlFacts, SqlFlag, SqlStatementFacts } from '@warden/policy'
import { WardenTypeError } from '@warden/policy'
import { setDerivedColumns } from '../internal/derived-columns.js'
import { type StatementResult, statementFacts } from './internal/ast-facts.js'
import { lexMysql } from './internal/lexer.js'
import { LruCache } from './internal/lru-cache.js'
import { type PartOverride, rewriteMariadb } from './internal/mariadb-syntax.js'
import { topLevel } from './internal/mariadb-tokens.js'
import { isWasmTrap, loadParser, parseMysql, parserReady } from './internal/sqlparser-instance.js'
import { setTxHint, type TxHint } from './internal/tx-hints.js'

/** Statements longer than this (UTF-16 code units) are not parsed: `parsed: false` (parsers.md §1.1.6). */
export const MAX_MYSQL_STATEMENT_LENGTH = 256 * 1024
const CACHE_ENTRIES = 1_000 // per generation: at most 2000 texts
/** Texts longer than this are described but not cached, so the cache stays small. */
const CACHE_MAX_KEY = 16 * 1024
const LOAD_TIMEOUT_MS = 30_000

const cache = new LruCache<string, SqlFacts>(CACHE_ENTRIES)

/**
 * Describes MySQL/MariaDB text as the `sql` facts of a Warden request: statement types, tables read
 * and written, functions, flags, `unbounded`, `parsed`. The text is read twice, by sqlparser-rs
 * (MySQL dialect, WASM) and by an independent lexer of MySQL's lexical rules; executable comments
 * (`/*! … *\/`, `/*M! … *\/`), a statement-count disagreement, a parser error or trap, or text over
 * {@link MAX_MYSQL_STATEMENT_LENGTH} give `parsed: false` (denied by default). Results are deep-frozen
 * and cached by text. Returns a promise only while the parser loads (the first call).
 * Exported from `@warden/drivers/mysql`. Never throws for any string input.
 * @example
 * const facts = await describeMysql('DELETE FROM orders')
 * facts.unbounded // true
 */
export function describeMysql(text: string): SqlFacts | Promise<SqlFacts> {
  if (typeof text !== 'string') throw new WardenTypeError('describeMysql: text must be a string')
  const hit = cache.get(text)
  if (hit !== undefined) return hit
  if (parserReady()) return describeNow(text)
  return withTimeout(loadParser(), LOAD_TIMEOUT_MS).then(
    () => describeNow(text),
    () => unparsed(text, 'the MySQL parser could not be loaded', []),
  )
}

/**
 * Describes `text` without reading or filling the shared cache: for text that holds parameter
 * values (a formatted query that could not be described by its template), which must neither stay
 * in memory nor evict other callers' entries. Internal to the driver (not exported by the package).
 */
export function describeMysqlUncached(text: string): SqlFacts | Promise<SqlFacts> {
  if (typeof text !== 'string') throw new WardenTypeError('describeMysql: text must be a string')
  const now = () =>
    parserReady() ? classify(text) : unparsed(text, 'the MySQL parser is being recreated after a trap', [])
  if (parserReady()) return now()
  return withTimeout(loadParser(), LOAD_TIMEOUT_MS).then(now, () =>
    unparsed(text, 'the MySQL parser could not be loaded', []),
  )
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function describeNow(text: string): SqlFacts {
  if (!parserReady()) return unparsed(text, 'the MySQL parser is being recreated after a trap', [])
  const facts = classify(text)
  if (text.length <= CACHE_MAX_KEY) cache.set(text, facts)
  return facts
}

function classify(text: string): SqlFacts {
  if (text.length > MAX_MYSQL_STATEMENT_LENGTH) {
    return unparsed(text, `statement longer than ${MAX_MYSQL_STATEMENT_LENGTH} characters`, [])
  }
  const lex = lexMysql(text)
  if (lex.error === 'executable_comment') {
    return unparsed(text, 'executable comment (/*! … */ or /*M! … */): the server runs its content as code', [
      'executable_comment',
    ])
  }
  if (lex.error !== '') return unparsed(text, lex.error.replace('_', ' '), [])
  const flags = new Set<SqlFlag>(tokenFlags(lex.statements))
  if (lex.statements.length === 0) return unparsed(text, 'empty statement', [...flags])
  if (lex.statements.length > 1) flags.add('multi_statement')
  // MariaDB syntax the parser cannot read, rewritten into text naming the same things.
  const rewritten = rewriteMariadb(text, lex)
  const parts = rewritten?.parts ?? lex.statements.map(() => SINGLE)
  const expected = parts.reduce((n, p) => n + p.count, 0)
  let ast: unknown
  try {
    ast = parseMysql(rewritten?.text ?? text)
  } catch (error) {
    return unparsed(text, parserMessage(error), [...flags])
  }
  const statements = Array.isArray(ast) ? ast : []
  if (statements.length !== expected) {
    return unparsed(
      text,
      `statement count mismatch: lexer ${lex.statements.length}, parser ${statements.length}`,
      [...flags],
    )
  }
  const facts: SqlStatementFacts[] = []
  const projected = new Set<string>()
  const effects = new Set<SqlEffect>()
  let write = false
  let unbounded = false
  let hint: TxHint = {}
  let touchesTx = false
  let next = 0
  parts.forEach((part, i) => {
    const tokens = lex.statements[i] ?? []
    let r = statementFacts(statements[next++], tokens, part)
    // SET STATEMENT a=1 FOR s: one statement with s's facts and the SET's effects.
    if (part.count === 2) r = mergeSetStatement(r, statementFacts(statements[next++], tokens, part.inner))
    facts.push(r.facts)
    for (const c of r.projected) projected.add(c)
    write ||= r.write
    unbounded ||= r.unbounded
    for (const f of r.flags) flags.add(f)
    for (const e of r.effects) effects.add(e)
    hint = r.hint
    touchesTx ||= Object.keys(r.hint).length > 0
  })
  if (parts.length > 1) {
    const tx = effects.has('transaction_control')
    // `SELECT 1; COMMIT; START TRANSACTION READ WRITE; DELETE …` in one text would leave the
    // read-only mode the first statement ran under: transaction control among several
    // statements is a write, and the state is read back from the server afterwards.
    if (tx) write = true
    hint = touchesTx ? MULTI_TX_HINT : {}
  }
  const reads = unique(facts.flatMap((s) => s.reads))
  const writes = unique(facts.flatMap((s) => s.writes))
  const described = deepFreeze({
    text,
    statements: facts,
    types: facts.map((s) => s.type),
    reads,
    writes,
    tables: unique([...reads, ...writes]),
    write,
    unbounded,
    functions: unique(facts.flatMap((s) => s.functions)),
    flags: [...flags],
    effects: [...effects],
    parsed: true,
    error: '',
  })
  setDerivedColumns(described, projected)
  setTxHint(described, hint)
  return described
}

const SINGLE: PartOverride = Object.freeze({ count: 1 })

/** `SET STATEMENT vars FOR s`: s, with the variables' effects (a write when they end the read-only mode). */
function mergeSetStatement(set: StatementResult, inner: StatementResult): StatementResult {
  return {
    ...inner,
    facts: {
      ...inner.facts,
      reads: unique([...set.facts.reads, ...inner.facts.reads]),
      functions: unique([...set.facts.functions, ...inner.facts.functions]),
    },
    write: inner.write || set.write,
    effects: [...new Set([...set.effects, ...inner.effects])],
    flags: [...new Set([...set.flags, ...inner.flags])],
  }
}

const MULTI_TX_HINT: TxHint = Object.freeze({ commitsFirst: true, unsettles: true })

/**
 * Flags read from the lexer's tokens. They only ever add to the facts (most of these statements do
 * not parse, so `parsed` is false anyway); they never make text count as classified.
 */
function tokenFlags(statements: readonly (readonly string[])[]): SqlFlag[] {
  const flags = new Set<SqlFlag>()
  for (const all of statements) {
    // SET STATEMENT vars FOR s: also s's flags (a FOR in the assignments is in parentheses).
    const f = all[0] === 'SET' && all[1] === 'STATEMENT' ? topLevel(all, 'FOR', 2) : -1
    const tokens = f > 0 ? all.slice(f + 1) : all
    const first = tokens[0]
    if (all[0] === 'SET' && all.some((t) => LEXER_WORDS.has(t))) flags.add('lexer_setting')
    if (first === 'LOAD' && (tokens[1] === 'DATA' || tokens[1] === 'XML')) flags.add('load_data')
    else if (first === 'HANDLER') flags.add('handler')
    else if (first === 'PREPARE') {
      flags.add('prepare')
      flags.add('dynamic_sql')
    } else if (first === 'EXECUTE') flags.add('dynamic_sql')
    for (let i = 0; i < tokens.length - 1; i++) {
      if (tokens[i] === 'INTO' && (tokens[i + 1] === 'OUTFILE' || tokens[i + 1] === 'DUMPFILE'))
        flags.add('into_outfile')
    }
  }
  return [...flags]
}
/** Words in a SET that change how the server lexes later text: sql_mode, and the client character set. */
const LEXER_WORDS = new Set([
  'SQL_MODE',
  'NAMES',
  'CHARSET',
  'CHARACTER',
  'CHARACTER_SET_CLIENT',
  'CHARACTER_SET_CONNECTION',
])

/** The parser's message without the offending token (it may be a parameter value). */
function parserMessage(error: unknown): string {
  if (isWasmTrap(error))
    return 'the MySQL parser trapped (too deep); the command is refused and the parser was recreated'
  // The glue throws plain `{message, line, column}` objects, not Errors.
  const raw = (error as { message?: unknown } | null)?.message
  const message = typeof raw === 'string' ? raw : ''
  const at = message.lastIndexOf(' at Line: ')
  const where = at >= 0 ? ` at line ${message.slice(at + 10).replace(', Column: ', ', column ')}` : ''
  if (message.includes('recursion limit')) return 'statement nested too deeply (parser recursion limit)'
  const expected = message.indexOf('Expected: ')
  const found = message.indexOf(', found: ')
  if (expected >= 0 && found > expected)
    return `syntax error${where}: expected ${message.slice(expected + 10, found)}`
  return `syntax error${where}`
}

function unparsed(text: string, error: string, flags: readonly SqlFlag[]): SqlFacts {
  // `write: true`: an allow rule written as `!sql.write` must never match text we could not read.
  return deepFreeze({
    text,
    statements: [],
    types: [],
    reads: [],
    writes: [],
    tables: [],
    write: true,
    unbounded: false,
    functions: [],
    flags: [...flags],
    effects: [],
    parsed: false,
    error,
  })
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)]
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
