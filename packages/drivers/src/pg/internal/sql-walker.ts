// Walks libpg-query's JSON tree (the real PostgreSQL grammar) and collects the `sql` facts.
// The tree is protobuf-style JSON that omits default values: a missing field is false/0/empty.
// Tagged nodes are `{Kind: body}` with an upper-case key; bare bodies (e.g. `relation`) have
// lower-case keys. Anything not handled explicitly is still walked generically, so tables and
// functions inside unknown nodes are found (parsers.md §1.1 point 3).
import type { SqlEffect } from '@warden/policy'
import { parsePlPgSQLSync, parseSync, scanSync } from 'libpg-query'
import { functionEffect, READ_ONLY_SETTINGS, ROLE_SETTINGS } from './pg-effects.js'
import { isStatementKind, statementType } from './statement-types.js'

type Body = Record<string, unknown>

/** Thrown for input that parses but cannot be fully classified: becomes `parsed: false`. */
export class DescribeFailure extends Error {}

export interface StatementAcc {
  readonly reads: Set<string>
  readonly writes: Set<string>
  readonly functions: Set<string>
  /** Types of statements nested in this one that run (writing CTEs, EXPLAIN ANALYZE, DO body...). */
  readonly nested: string[]
  unbounded: boolean
}

interface Scope {
  /** CTE names visible here: an unqualified table of that name is the CTE, not a table. */
  readonly ctes: ReadonlySet<string>
  /** False inside plain EXPLAIN: nothing runs, so targets count as reads and nothing is unbounded. */
  readonly runs: boolean
  /** Whether a RangeVar met here is read or written. */
  readonly rel: 'read' | 'write'
}

const ROOT: Scope = { ctes: new Set(), runs: true, rel: 'read' }

/** Functions that run SQL given as a string, or read tables the text does not name. */
const DYNAMIC_FUNCTIONS: ReadonlySet<string> = new Set([
  'query_to_xml',
  'query_to_xmlschema',
  'query_to_xml_and_xmlschema',
  'table_to_xml',
  'table_to_xmlschema',
  'table_to_xml_and_xmlschema',
  'schema_to_xml',
  'schema_to_xmlschema',
  'schema_to_xml_and_xmlschema',
  'database_to_xml',
  'database_to_xmlschema',
  'database_to_xml_and_xmlschema',
  'ts_stat',
])

/** Settings that change how the server lexes the next statement (parsers.md §8.1). */
const LEXER_SETTINGS: ReadonlySet<string> = new Set([
  'standard_conforming_strings',
  'backslash_quote',
  'client_encoding',
])

const TABLE_DROPS: ReadonlySet<string> = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_SEQUENCE',
  'OBJECT_INDEX',
])

const OFF_VALUES: ReadonlySet<string> = new Set(['false', 'off', '0', 'no'])

/** Node kinds that cannot hold a table, function or statement: skipped for speed. */
const LEAVES: ReadonlySet<string> = new Set([
  'String',
  'Integer',
  'Float',
  'Boolean',
  'BitString',
  'A_Const',
  'ColumnRef',
  'ParamRef',
  'A_Star',
  'Alias',
])

/**
 * Clauses whose column references decide which rows come back but put no value into them: a
 * computed output column cannot carry a value read only there (see `ProjectedColumns`).
 */
const PREDICATE_KEYS: ReadonlySet<string> = new Set([
  'whereClause',
  'havingClause',
  'quals',
  'sortClause',
  'groupClause',
  'distinctClause',
  'limitCount',
  'limitOffset',
  'aggfilter',
  'windowClause',
  'partitionClause',
  'orderClause',
  'aggorder',
])

/**
 * What the statement's output could carry, for masking computed columns (which have no table
 * origin on the wire): the names of the columns referenced outside predicate clauses, and whether a
 * whole row is referenced (`row_to_json(c)`, `c.*` inside an expression, `SELECT c FROM customers c`).
 */
export interface ProjectedColumns {
  readonly columns: ReadonlySet<string>
  readonly wholeRow: boolean
}

export class SqlWalker {
  readonly flags = new Set<string>()
  /** Side effects (see pg-effects.ts); `forcesWrite` when one of them is a write. */
  readonly effects = new Set<SqlEffect>()
  forcesWrite = false
  /** Column names referenced where values flow into the result (lower-cased; the last name part). */
  readonly #projected = new Set<string>()
  /** One-part references (`c` in `row_to_json(c)`): a whole row when it names a relation or alias. */
  readonly #bareRefs = new Set<string>()
  /** Relation names and aliases met in the statement. */
  readonly #relations = new Set<string>()
  #qualifiedStar = false
  #predicate = 0
  #depth = 0
  readonly #maxDepth: number
  #acc!: StatementAcc

  constructor(maxDepth: number) {
    this.#maxDepth = maxDepth
  }

  /** Classifies one top-level statement (`{Kind: body}`) and returns its type and facts. */
  statement(node: Body): { type: string; acc: StatementAcc; where: boolean } {
    const acc: StatementAcc = {
      reads: new Set(),
      writes: new Set(),
      functions: new Set(),
      nested: [],
      unbounded: false,
    }
    this.#acc = acc
    const [kind, body] = tagged(node)
    const type = statementType(kind, body)
    this.#statement(kind, body, ROOT, false)
    const ownWhere = (kind === 'UpdateStmt' || kind === 'DeleteStmt') && body.whereClause === undefined
    return { type, acc, where: !(ownWhere || acc.unbounded) }
  }

  /** The columns the statement's output may carry (after every statement was walked). */
  projected(): ProjectedColumns {
    let wholeRow = this.#qualifiedStar
    for (const ref of this.#bareRefs) if (this.#relations.has(ref)) wholeRow = true
    return { columns: this.#projected, wholeRow }
  }

  #columnRef(ref: Body): void {
    if (this.#predicate > 0) return
    const fields = (ref.fields as Body[] | undefined) ?? []
    const last = fields[fields.length - 1]
    if (last === undefined) return
    if (last.A_Star !== undefined) {
      // `t.*` inside an expression is a whole row; a bare `*` is the target list's own expansion,
      // whose columns keep their table origin.
      if (fields.length > 1) this.#qualifiedStar = true
      return
    }
    const name = stringValue(last).toLowerCase()
    if (name === '') return
    this.#projected.add(name)
    if (fields.length === 1) this.#bareRefs.add(name)
  }

  #visit(value: unknown, scope: Scope): void {
    if (value === null || typeof value !== 'object') return
    if (++this.#depth > this.#maxDepth) throw new DescribeFailure('statement nested too deeply')
    try {
      if (Array.isArray(value)) {
        for (const item of value) this.#visit(item, scope)
      } else {
        this.#object(value as Body, scope, '')
      }
    } finally {
      this.#depth--
    }
  }

  /** A bare body or a tagged node; `skip` names one field the caller already handled. */
  #object(obj: Body, scope: Scope, skip: string): void {
    if (typeof obj.relname === 'string') {
      this.#relation(obj)
      this.#table(obj, scope)
      return
    }
    if (typeof obj.aliasname === 'string') this.#relations.add(obj.aliasname.toLowerCase())
    let inner = scope
    if (obj.withClause !== undefined && skip !== 'withClause')
      inner = this.#with(obj.withClause as Body, scope)
    for (const key in obj) {
      if (key === skip || key === 'withClause') continue
      const value = obj[key]
      if (value === null || typeof value !== 'object') continue
      const first = key.charCodeAt(0)
      if (first >= 65 && first <= 90) this.#node(key, value as Body, inner)
      else if (PREDICATE_KEYS.has(key)) {
        this.#predicate++
        try {
          this.#visit(value, inner)
        } finally {
          this.#predicate--
        }
      } else if (key === 'pktable' || key === 'inhRelations') this.#visit(value, { ...inner, rel: 'read' })
      else if (key === 'intoClause') this.#visit(value, { ...inner, rel: 'write' })
      else if (key === 'setstmt')
        this.#statement('VariableSetStmt', value as Body, inner, false) // ALTER ROLE/DATABASE/SYSTEM ... SET
      else this.#visit(value, inner)
    }
  }

  #effect(write: boolean, ...effects: readonly SqlEffect[]): void {
    for (const effect of effects) this.effects.add(effect)
    if (write) this.forcesWrite = true
  }

  #node(kind: string, body: Body, scope: Scope): void {
    if (kind === 'ColumnRef') {
      this.#columnRef(body)
      return
    }
    if (LEAVES.has(kind)) return
    if (++this.#depth > this.#maxDepth) throw new DescribeFailure('statement nested too deeply')
    try {
      if (kind === 'FuncCall') {
        this.#function(body)
        this.#object(body, scope, 'funcname')
      } else if (kind === 'TableLikeClause') {
        this.#object(body, { ...scope, rel: 'read' }, '')
      } else if (isStatementKind(kind)) {
        this.#statement(kind, body, scope, false)
      } else {
        this.#object(body, scope, '')
      }
    } finally {
      this.#depth--
    }
  }

  /** A nested statement in a position where it runs as a statement of its own. */
  #child(node: unknown, scope: Scope): void {
    if (node === undefined) return
    const [kind, body] = tagged(node as Body)
    this.#statement(kind, body, scope, true)
  }

  #statement(kind: string, body: Body, scope: Scope, nested: boolean): void {
    if (nested && scope.runs) this.#acc.nested.push(statementType(kind, body))
    switch (kind) {
      case 'SelectStmt':
        // Row locks are writes (the server refuses them in a read-only transaction).
        if (body.lockingClause !== undefined && scope.runs) this.#effect(true, 'lock')
        // SELECT ... INTO creates the table it fills.
        if (body.intoClause !== undefined && scope.runs && !nested) this.#acc.nested.push('CREATE')
        this.#object(body, { ...scope, rel: 'read' }, '')
        return
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt': {
        // The target of DML is always a real table, never a CTE of the same name.
        this.#target(body.relation as Body, scope)
        if (
          (kind === 'UpdateStmt' || kind === 'DeleteStmt') &&
          body.whereClause === undefined &&
          scope.runs
        ) {
          this.#acc.unbounded = true
        }
        this.#object(body, { ...scope, rel: 'read' }, 'relation')
        return
      }
      case 'CopyStmt': {
        if (body.is_program === true) {
          this.flags.add('copy_program')
          this.#effect(body.is_from !== true, 'program')
        } else if (typeof body.filename === 'string') {
          this.flags.add('copy_file')
          this.#effect(body.is_from !== true, 'server_file')
        }
        if (body.relation !== undefined) {
          if (body.is_from === true) this.#target(body.relation as Body, scope)
          else this.#table(body.relation as Body, { ...scope, rel: 'read' })
        }
        const inner = { ...scope, rel: 'read' } as const
        this.#child(body.query, inner)
        this.#visit(body.whereClause, inner)
        return
      }
      case 'ExplainStmt': {
        const analyze = explainAnalyze(body.options)
        this.#child(body.query, analyze ? scope : { ...scope, runs: false })
        return
      }
      case 'PrepareStmt':
        this.flags.add('prepare')
        this.#child(body.query, scope)
        return
      case 'DeclareCursorStmt':
        this.#child(body.query, scope)
        return
      case 'CreateTableAsStmt':
        this.#visit(body.into, { ...scope, rel: 'write' })
        this.#child(body.query, scope)
        return
      case 'ViewStmt':
        this.#target(body.view as Body, scope)
        this.#visit(body.query, { ...scope, runs: false })
        return
      case 'ExecuteStmt':
        // Runs a statement prepared earlier, maybe on another round trip: what it does is not in this text.
        this.flags.add('dynamic_sql')
        this.#visit(body.params, scope)
        return
      case 'DoStmt':
        this.#do(body, scope)
        return
      case 'CallStmt':
        if (body.funccall !== undefined) {
          this.#function(body.funccall as Body)
          this.#object(body.funccall as Body, scope, 'funcname')
        }
        return
      case 'VariableSetStmt':
        this.#setting(body)
        this.#visit(body.args, scope)
        return
      case 'TransactionStmt':
        this.#effect(false, 'transaction_control')
        return
      case 'ConstraintsSetStmt':
        // SET CONSTRAINTS ... IMMEDIATE runs deferred triggers now: refused in a read-only transaction.
        this.#effect(true, 'transaction_control')
        return
      case 'NotifyStmt':
      case 'ListenStmt':
      case 'UnlistenStmt':
        this.#effect(false, 'notify')
        return
      case 'LockStmt':
        this.#effect(true, 'lock')
        this.#object(body, { ...scope, rel: 'write' }, '')
        return
      case 'DiscardStmt':
        // DISCARD ALL resets default_transaction_read_only (and drops listens and advisory locks).
        if (body.target === 'DISCARD_ALL') this.#effect(true, 'session_config')
        return
      case 'AlterSystemStmt':
      case 'CheckPointStmt':
      case 'LoadStmt':
        this.#effect(true, 'server_config')
        this.#object(body, { ...scope, rel: 'write' }, '')
        return
      case 'DropStmt':
        if (TABLE_DROPS.has(String(body.removeType))) {
          for (const object of (body.objects as Body[] | undefined) ?? []) {
            const name = nameOf(object)
            if (name !== '') this.#written(name, scope)
          }
          return
        }
        this.#object(body, scope, '')
        return
      default:
        // DDL and everything else: tables named directly by the statement are written.
        this.#object(body, { ...scope, rel: 'write' }, '')
    }
  }

  /** SET / RESET: lexer settings, the read-only mode, the role, transaction characteristics. */
  #setting(body: Body): void {
    const name = typeof body.name === 'string' ? body.name.toLowerCase() : ''
    const kind = String(body.kind)
    if (LEXER_SETTINGS.has(name)) this.flags.add('lexer_setting')
    if (kind === 'VAR_RESET_ALL') {
      this.#effect(true, 'session_config')
      return
    }
    if (READ_ONLY_SETTINGS.has(name)) this.#effect(true, 'session_config')
    else if (ROLE_SETTINGS.has(name)) this.#effect(false, 'role_change')
    else if (name === 'transaction' || name === 'transaction snapshot') {
      // SET TRANSACTION READ WRITE turns a transaction begun read-only into a read-write one.
      this.#effect(readWriteOption(body.args), 'transaction_control')
    } else if (name === 'session characteristics') this.#effect(true, 'session_config', 'transaction_control')
  }

  #with(withClause: Body, scope: Scope): Scope {
    const ctes = ((withClause.ctes as Body[] | undefined) ?? []).map((c) => c.CommonTableExpr as Body)
    const recursive = withClause.recursive === true
    const all = new Set(scope.ctes)
    for (const cte of ctes) {
      all.add(String(cte.ctename))
      this.#relations.add(String(cte.ctename).toLowerCase())
    }
    const sofar = new Set(scope.ctes)
    for (const cte of ctes) {
      // Without RECURSIVE, a CTE's body sees only the CTEs before it (a same-named table otherwise).
      const inner: Scope = { ...scope, ctes: recursive ? all : new Set(sofar) }
      const [kind, body] = tagged(cte.ctequery as Body)
      if (kind === 'SelectStmt') this.#statement(kind, body, { ...inner, rel: 'read' }, false)
      else this.#statement(kind, body, inner, true)
      sofar.add(String(cte.ctename))
    }
    return { ...scope, ctes: all }
  }

  #table(rv: Body, scope: Scope): void {
    if (scope.rel === 'write') {
      // What a statement writes (INTO, CREATE, ALTER...) is always a real relation, never a CTE.
      this.#written(relationName(rv), scope)
      return
    }
    if (rv.schemaname === undefined && rv.catalogname === undefined && scope.ctes.has(String(rv.relname)))
      return
    this.#acc.reads.add(relationName(rv))
  }

  #target(rv: Body | undefined, scope: Scope): void {
    if (rv === undefined) return
    this.#relation(rv)
    this.#written(relationName(rv), scope)
  }

  #relation(rv: Body): void {
    this.#relations.add(String(rv.relname).toLowerCase())
    const alias = (rv.alias as Body | undefined)?.aliasname
    if (typeof alias === 'string') this.#relations.add(alias.toLowerCase())
  }

  #written(name: string, scope: Scope): void {
    if (scope.runs) this.#acc.writes.add(name)
    else this.#acc.reads.add(name)
  }

  #function(call: Body): void {
    const parts = ((call.funcname as Body[] | undefined) ?? []).map(stringValue)
    const bare = parts[parts.length - 1] ?? ''
    if (bare === '') return
    // Both forms, so a rule on `pg_read_file` also catches `pg_catalog.pg_read_file`.
    this.#acc.functions.add(bare)
    if (parts.length > 1) this.#acc.functions.add(parts.join('.'))
    if (DYNAMIC_FUNCTIONS.has(bare) || bare.startsWith('dblink')) this.flags.add('dynamic_sql')
    // ts_rewrite(query, select_text) runs its second argument as SQL; the 3-argument form does not.
    if (bare === 'ts_rewrite' && (call.args as Body[] | undefined)?.length === 2)
      this.flags.add('dynamic_sql')
    const known = functionEffect(bare)
    if (known !== undefined) this.#effect(known.write, ...known.effects)
    if (bare === 'set_config') {
      const first = (call.args as Body[] | undefined)?.[0]
      const setting = constantString(first)?.toLowerCase()
      if (setting === undefined || LEXER_SETTINGS.has(setting)) this.flags.add('lexer_setting')
      if (setting === undefined || ROLE_SETTINGS.has(setting)) this.#effect(false, 'role_change')
    }
  }

  #do(body: Body, scope: Scope): void {
    this.flags.add('do_block')
    let language = 'plpgsql'
    let source: string | undefined
    for (const arg of (body.args as Body[] | undefined) ?? []) {
      const def = arg.DefElem as Body
      const value = constantString(def.arg as Body)
      if (def.defname === 'language' && value !== undefined) language = value
      if (def.defname === 'as') source = value
    }
    if (language !== 'plpgsql')
      throw new DescribeFailure(`DO block in language "${language}" cannot be classified`)
    if (source === undefined) throw new DescribeFailure('DO block without a body')
    let tree: unknown
    try {
      tree = parsePlPgSQLSync(wrapDo(source))
    } catch (error) {
      throw new DescribeFailure(`DO block: ${messageOf(error)}`)
    }
    this.#plpgsql(tree, scope)
  }

  /** Walks a PL/pgSQL tree: every embedded SQL statement or expression is parsed and classified. */
  #plpgsql(value: unknown, scope: Scope): void {
    if (value === null || typeof value !== 'object') return
    if (++this.#depth > this.#maxDepth) throw new DescribeFailure('statement nested too deeply')
    try {
      if (Array.isArray(value)) {
        for (const item of value) this.#plpgsql(item, scope)
        return
      }
      for (const key in value as Body) {
        const child = (value as Body)[key]
        if (key === 'PLpgSQL_expr') {
          this.#plExpression(child as Body, scope)
          continue
        }
        // EXECUTE, FOR ... IN EXECUTE, OPEN ... FOR EXECUTE, RETURN QUERY EXECUTE.
        if (key.startsWith('PLpgSQL_stmt_dyn') || key === 'dynquery') this.flags.add('dynamic_sql')
        // COMMIT/ROLLBACK in a DO block start a new transaction mid-statement: the driver's
        // read-only mode holds for the first one only (a write: see docs/pg.md).
        if (key === 'PLpgSQL_stmt_commit' || key === 'PLpgSQL_stmt_rollback')
          this.#effect(true, 'transaction_control')
        this.#plpgsql(child, scope)
      }
    } finally {
      this.#depth--
    }
  }

  #plExpression(expr: Body, scope: Scope): void {
    const query = String(expr.query ?? '')
    const mode = typeof expr.parseMode === 'number' ? expr.parseMode : 0
    switch (mode) {
      case 0: // RAW_PARSE_DEFAULT: a whole SQL statement
        for (const stmt of parseEmbedded(query)) this.#child(stmt.stmt, scope)
        return
      case 1: // RAW_PARSE_TYPE_NAME
        return
      case 2: // RAW_PARSE_PLPGSQL_EXPR: PL/pgSQL evaluates it as `SELECT <expr>`
        for (const stmt of parseEmbedded(`SELECT ${query}`)) this.#visit(stmt.stmt, scope)
        return
      case 3:
      case 4:
      case 5: {
        // RAW_PARSE_PLPGSQL_ASSIGNn: `target := expr`; split at the assignment token the real lexer finds.
        const [target, value] = splitAssignment(query)
        for (const stmt of parseEmbedded(`SELECT ${target}\n,\n${value}`)) this.#visit(stmt.stmt, scope)
        return
      }
      default:
        throw new DescribeFailure(`DO block: unknown PL/pgSQL expression mode ${mode}`)
    }
  }
}

function tagged(node: Body): [string, Body] {
  for (const key in node) return [key, node[key] as Body]
  throw new DescribeFailure('empty node')
}

function stringValue(node: Body): string {
  const s = node.String as Body | undefined
  return typeof s?.sval === 'string' ? s.sval : ''
}

function relationName(rv: Body): string {
  let name = String(rv.relname)
  if (typeof rv.schemaname === 'string') name = `${rv.schemaname}.${name}`
  if (typeof rv.catalogname === 'string') name = `${rv.catalogname}.${name}`
  return name
}

/** `{List: {items: [{String}...]}}` (DROP TABLE a.b) → `a.b`. */
function nameOf(object: Body): string {
  const list = object.List as Body | undefined
  const items = (list?.items as Body[] | undefined) ?? []
  return items
    .map(stringValue)
    .filter((s) => s !== '')
    .join('.')
}

/** The value of a string constant (`A_Const` or a bare `String`), or undefined for anything else. */
function constantString(node: Body | undefined): string | undefined {
  if (node === undefined) return undefined
  const direct = node.String as Body | undefined
  if (typeof direct?.sval === 'string') return direct.sval
  const constant = node.A_Const as Body | undefined
  const sval = constant?.sval as Body | undefined
  if (sval !== undefined) return typeof sval.sval === 'string' ? sval.sval : ''
  return undefined
}

/** Whether SET TRANSACTION / SET SESSION CHARACTERISTICS options ask for READ WRITE. */
function readWriteOption(args: unknown): boolean {
  for (const arg of (args as Body[] | undefined) ?? []) {
    const def = arg.DefElem as Body | undefined
    if (def?.defname !== 'transaction_read_only') continue
    const constant = (def.arg as Body | undefined)?.A_Const as Body | undefined
    const ival = (constant?.ival as Body | undefined)?.ival
    if (ival === undefined || ival === 0) return true
  }
  return false
}

function explainAnalyze(options: unknown): boolean {
  for (const option of (options as Body[] | undefined) ?? []) {
    const def = option.DefElem as Body | undefined
    if (def?.defname !== 'analyze') continue
    const arg = def.arg as Body | undefined
    if (arg === undefined) return true
    const boolean = arg.Boolean as Body | undefined
    if (boolean !== undefined) return boolean.boolval === true
    const integer = arg.Integer as Body | undefined
    if (integer !== undefined) return integer.ival !== undefined && integer.ival !== 0
    const text = constantString(arg)
    // Anything but an explicit "off" counts as running the statement.
    return text === undefined || !OFF_VALUES.has(text.toLowerCase())
  }
  return false
}

/** Rebuilds `DO $tag$body$tag$` with a tag that cannot occur inside the body. */
function wrapDo(source: string): string {
  for (let n = 0; ; n++) {
    const tag = `$warden${n}$`
    const text = `DO ${tag}${source}${tag}`
    if (text.indexOf(tag) === 3 && text.indexOf(tag, 3 + tag.length) === 3 + tag.length + source.length)
      return text
  }
}

function parseEmbedded(query: string): Body[] {
  try {
    return (parseSync(query) as unknown as { stmts?: Body[] }).stmts ?? []
  } catch (error) {
    throw new DescribeFailure(`DO block: ${messageOf(error)}`)
  }
}

function splitAssignment(query: string): [string, string] {
  let tokens: { start: number; end: number; text: string }[]
  try {
    tokens = scanSync(query).tokens
  } catch (error) {
    throw new DescribeFailure(`DO block: ${messageOf(error)}`)
  }
  const bytes = Buffer.from(query, 'utf8')
  let depth = 0
  for (const token of tokens) {
    if (token.text === '(' || token.text === '[') depth++
    else if (token.text === ')' || token.text === ']') depth--
    else if (depth === 0 && (token.text === ':=' || token.text === '=')) {
      // Token offsets are byte offsets into the UTF-8 text.
      return [bytes.subarray(0, token.start).toString('utf8'), bytes.subarray(token.end).toString('utf8')]
    }
  }
  throw new DescribeFailure('DO block: assignment without ":="')
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
