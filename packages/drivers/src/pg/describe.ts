// describePostgres: the `sql` facts of a PostgreSQL text, from the server's own grammar (libpg-query).
// Fail closed (parsers.md §1.1): unparseable, empty, oversized or too-deep input is `parsed: false`,
// and no second, weaker parser ever rescues it. Facts are deep-frozen and cached by exact text.

import type { SqlEffect, SqlFacts, SqlFlag, SqlStatementFacts } from '@warden/policy'
import { WardenError, WardenTypeError } from '@warden/policy'
import { loadModule, parseSync } from 'libpg-query'
import { setDerivedColumns } from '../internal/derived-columns.js'
import { Lru } from './internal/lru.js'
import { DescribeFailure, messageOf, type ProjectedColumns, SqlWalker } from './internal/sql-walker.js'
import { READ_ONLY_TYPES, TRANSACTION_TYPES } from './internal/statement-types.js'

export interface DescribePostgresOptions {
  /** Longest text classified, in characters (default 262144). Longer text is `parsed: false`. */
  readonly maxLength?: number
  /** Deepest tree walked (default 1000 nodes). Deeper input is `parsed: false`. */
  readonly maxDepth?: number
}

const DEFAULT_MAX_LENGTH = 256 * 1024
const DEFAULT_MAX_DEPTH = 1000
const CACHE_SIZE = 2048

const cache = new Lru<string, SqlFacts>(CACHE_SIZE)
let loading: Promise<void> | undefined
let loaded = false

/** Loads the parser (WASM, ~80 ms once). Drivers call it at construction so the first query does not pay. */
export function loadPostgresParser(): Promise<void> {
  loading ??= loadModule().then(
    () => {
      loaded = true
    },
    (error: unknown) => {
      loading = undefined
      throw new WardenError(
        'ERR_WARDEN_DESCRIBE',
        `could not load the PostgreSQL parser (libpg-query): ${messageOf(error)}`,
        {
          cause: error,
        },
      )
    },
  )
  return loading
}

/**
 * The `sql` facts of `text` as PostgreSQL would run it. Returns a promise only while the parser
 * is still loading (the first call); afterwards it returns synchronously.
 */
export function describePostgres(
  text: string,
  options?: DescribePostgresOptions,
): SqlFacts | Promise<SqlFacts> {
  if (typeof text !== 'string') throw new WardenTypeError('describePostgres: text must be a string')
  const maxLength = option(options?.maxLength, DEFAULT_MAX_LENGTH, 'maxLength')
  const maxDepth = option(options?.maxDepth, DEFAULT_MAX_DEPTH, 'maxDepth')
  const key =
    maxLength === DEFAULT_MAX_LENGTH && maxDepth === DEFAULT_MAX_DEPTH
      ? text
      : `${maxLength}:${maxDepth}:${text}`
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  if (!loaded) return loadPostgresParser().then(() => remember(key, text, maxLength, maxDepth))
  return remember(key, text, maxLength, maxDepth)
}

function option(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1)
    throw new WardenTypeError(`describePostgres: "${name}" must be a positive integer`)
  return value
}

/**
 * Checks describer options up front (a Client or Pool's `describe`), with the same rules
 * `describePostgres` applies, so a bad limit fails at construction and not on the first query.
 */
export function checkDescribeOptions(who: string, options: DescribePostgresOptions | undefined): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null)
    throw new WardenTypeError(`${who}: "describe" must be an object like {maxLength, maxDepth}`)
  try {
    option(options.maxLength, DEFAULT_MAX_LENGTH, 'maxLength')
    option(options.maxDepth, DEFAULT_MAX_DEPTH, 'maxDepth')
  } catch (error) {
    throw new WardenTypeError((error as Error).message.replace('describePostgres: "', `${who}: "describe.`))
  }
}

function remember(key: string, text: string, maxLength: number, maxDepth: number): SqlFacts {
  const { facts, projected } = classify(text, maxLength, maxDepth)
  deepFreeze(facts)
  if (projected !== undefined)
    setDerivedColumns(facts, projected.wholeRow ? [...projected.columns, '*'] : projected.columns)
  cache.set(key, facts)
  return facts
}

function classify(
  text: string,
  maxLength: number,
  maxDepth: number,
): { facts: SqlFacts; projected?: ProjectedColumns } {
  if (text.length > maxLength)
    return { facts: unparsed(text, `statement longer than ${maxLength} characters`) }
  // A NUL ends the text for the parser (a C string) but not for the wire: never classify such text.
  if (text.includes('\u0000')) return { facts: unparsed(text, 'text contains a NUL character') }
  // libpg-query refuses empty input; the server runs nothing for it (EmptyQueryResponse).
  if (/^[ \t\n\r\f]*$/.test(text)) return { facts: noOp(text) }
  let stmts: Record<string, unknown>[]
  try {
    stmts = (parseSync(text) as unknown as { stmts?: Record<string, unknown>[] }).stmts ?? []
  } catch (error) {
    return { facts: unparsed(text, parseError(error)) }
  }
  // Empty text (or only comments / semicolons): the server answers EmptyQueryResponse and runs nothing.
  if (stmts.length === 0) return { facts: noOp(text) }

  const walker = new SqlWalker(maxDepth)
  const statements: SqlStatementFacts[] = []
  const types: string[] = []
  const reads = new Set<string>()
  const writes = new Set<string>()
  const functions = new Set<string>()
  let unbounded = false
  try {
    for (const entry of stmts) {
      const { type, acc, where } = walker.statement(entry.stmt as Record<string, unknown>)
      statements.push({
        type,
        reads: [...acc.reads],
        writes: [...acc.writes],
        where,
        functions: [...acc.functions],
      })
      types.push(type, ...acc.nested)
      for (const t of acc.reads) reads.add(t)
      for (const t of acc.writes) writes.add(t)
      for (const f of acc.functions) functions.add(f)
      unbounded ||= acc.unbounded
    }
  } catch (error) {
    if (error instanceof DescribeFailure) return { facts: unparsed(text, error.message) }
    if (error instanceof RangeError) return { facts: unparsed(text, 'statement nested too deeply') }
    return { facts: unparsed(text, `could not classify: ${messageOf(error)}`) }
  }
  const flags = [...walker.flags] as SqlFlag[]
  if (statements.length > 1) flags.push('multi_statement')
  // A transaction boundary inside a longer text starts a transaction whose mode the text can set
  // (BEGIN READ WRITE, SET TRANSACTION...) after the driver's read-only check: such text is a write.
  const boundary = statements.length > 1 && statements.some((s) => TRANSACTION_TYPES.has(s.type))
  const tables = new Set([...reads, ...writes])
  const facts: SqlFacts = {
    text,
    statements,
    types,
    reads: [...reads],
    writes: [...writes],
    tables: [...tables],
    write: writes.size > 0 || walker.forcesWrite || boundary || types.some((t) => !READ_ONLY_TYPES.has(t)),
    unbounded,
    functions: [...functions],
    flags,
    effects: [...walker.effects] as SqlEffect[],
    parsed: true,
    error: '',
  }
  return { facts, projected: walker.projected() }
}

function parseError(error: unknown): string {
  const message = messageOf(error)
  if (message.startsWith('memory exhausted') || error instanceof RangeError)
    return 'statement nested too deeply'
  const position = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition
  return typeof position === 'number' ? `${message} (position ${position + 1})` : message
}

function noOp(text: string): SqlFacts {
  return { ...unparsed(text, ''), parsed: true }
}

function unparsed(text: string, error: string): SqlFacts {
  return {
    text,
    statements: [],
    types: [],
    reads: [],
    writes: [],
    tables: [],
    write: false,
    unbounded: false,
    functions: [],
    flags: [],
    effects: [],
    parsed: false,
    error,
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
    Object.freeze(value)
  }
  return value
}
