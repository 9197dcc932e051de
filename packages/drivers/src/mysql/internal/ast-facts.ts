// Facts of one statement from the sqlparser-rs AST (serde JSON of `Statement`, sqlparser 0.62).
// Statement variants the driver does not know become `OTHER` (denied unless a policy allows it),
// and their children are still walked, so tables and functions inside are found anyway.
import type { SqlEffect, SqlStatementFacts } from '@warden/policy'
import type { PartOverride } from './mariadb-syntax.js'
import { statementEffects } from './statement-effects.js'
import type { TxHint } from './tx-hints.js'

type Node = Record<string, unknown>
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Statement variant → statement type. Variants not listed are `OTHER`. */
const TYPES: Readonly<Record<string, string>> = {
  Query: 'SELECT',
  Insert: 'INSERT',
  Update: 'UPDATE',
  Delete: 'DELETE',
  Merge: 'MERGE',
  Drop: 'DROP',
  DropFunction: 'DROP',
  DropProcedure: 'DROP',
  DropTrigger: 'DROP',
  Truncate: 'TRUNCATE',
  CreateTable: 'CREATE',
  CreateView: 'CREATE',
  CreateIndex: 'CREATE',
  CreateDatabase: 'CREATE',
  CreateSchema: 'CREATE',
  CreateFunction: 'CREATE',
  CreateProcedure: 'CREATE',
  CreateTrigger: 'CREATE',
  CreateRole: 'CREATE',
  CreateUser: 'CREATE',
  AlterTable: 'ALTER',
  AlterView: 'ALTER',
  AlterIndex: 'ALTER',
  AlterUser: 'ALTER',
  AlterRole: 'ALTER',
  RenameTable: 'RENAME',
  Set: 'SET',
  SetVariable: 'SET',
  SetNames: 'SET',
  Use: 'USE',
  StartTransaction: 'BEGIN',
  Commit: 'COMMIT',
  Rollback: 'ROLLBACK',
  Savepoint: 'SAVEPOINT',
  ReleaseSavepoint: 'RELEASE',
  Grant: 'GRANT',
  Revoke: 'REVOKE',
  Call: 'CALL',
  Kill: 'KILL',
  Execute: 'EXECUTE',
  Prepare: 'PREPARE',
  Deallocate: 'DEALLOCATE',
  LockTables: 'LOCK',
  UnlockTables: 'UNLOCK',
  Flush: 'FLUSH',
  Analyze: 'ANALYZE',
  OptimizeTable: 'OPTIMIZE',
  Explain: 'EXPLAIN',
  ExplainTable: 'DESCRIBE',
}

/** Types that change neither data nor schema. Everything else (OTHER, CALL, EXECUTE, ...) counts as a write. */
const READ_ONLY = new Set([
  'SELECT',
  'SHOW',
  'DESCRIBE',
  'EXPLAIN',
  'USE',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'SET',
  'DEALLOCATE',
  'LOCK',
  'UNLOCK',
  'ANALYZE',
])

/** Server variables whose change alters how later statements are lexed. */
const LEXER_VARIABLES = new Set([
  'sql_mode',
  'character_set_client',
  'character_set_connection',
  'names',
  'charset',
])

/**
 * Clauses whose column references choose rows but put no value into them (see `projected`).
 * Keys of the sqlparser-rs AST.
 */
const PREDICATE_KEYS = new Set([
  'selection',
  'having',
  'qualify',
  'group_by',
  'sort_by',
  'order_by',
  'cluster_by',
  'distribute_by',
  'connect_by',
  'limit_clause',
  'On',
  'named_window',
  'partition_by',
  'filter',
])
/** Keys whose identifiers name tables, functions or aliases, not columns. */
const NAME_KEYS = new Set(['name', 'alias'])

export interface StatementResult {
  readonly facts: SqlStatementFacts
  /**
   * Column names referenced where values flow into the result (lower-cased), so a computed column
   * (`UPPER(ssn)`, no origin in the field packet) can be masked like the columns it reads.
   */
  readonly projected: ReadonlySet<string>
  readonly write: boolean
  /** A nested or top-level UPDATE/DELETE has no WHERE. */
  readonly unbounded: boolean
  readonly flags: readonly string[]
  /** Side effects (statement-effects.ts); a write effect also sets `write`. */
  readonly effects: readonly SqlEffect[]
  /** What the statement does to the connection's transaction. */
  readonly hint: TxHint
}

function identValue(part: unknown): string {
  if (!isNode(part)) return ''
  const inner = isNode(part.Identifier) ? part.Identifier : part
  return typeof inner.value === 'string' ? inner.value : ''
}

/** `ObjectName` (list of parts) → `db.table`, lower-cased (MySQL is case-insensitive on most setups). */
export function objectName(name: unknown): string {
  if (!Array.isArray(name)) return isNode(name) ? identValue(name).toLowerCase() : ''
  return name.map(identValue).join('.').toLowerCase()
}

function typeOf(key: string): string {
  const known = TYPES[key]
  if (known !== undefined) return known
  if (key.startsWith('Show')) return 'SHOW'
  return 'OTHER'
}

class Collector {
  readonly reads = new Set<string>()
  readonly writes = new Set<string>()
  readonly functions = new Set<string>()
  readonly flags = new Set<string>()
  /** Table factors already counted as write targets; the generic walk must not count them as reads. */
  readonly targets = new Set<unknown>()
  readonly projected = new Set<string>()
  /** CTE names visible where the walk is: an unqualified table of such a name is the CTE, not a table. */
  readonly #cteScopes: ReadonlySet<string>[] = []
  #predicate = 0
  #naming = 0
  unbounded = false
  /** A FOR UPDATE / FOR SHARE clause somewhere. */
  locks = false

  write(name: unknown): void {
    const n = objectName(name)
    if (n !== '') this.writes.add(n)
  }

  /** Marks the relation of every table in a TableWithJoins list as a write target. */
  writeRelations(list: unknown, includeJoins: boolean): void {
    const relations: unknown[] = []
    for (const twj of Array.isArray(list) ? list : [list]) {
      if (!isNode(twj)) continue
      relations.push(twj.relation)
      if (includeJoins && Array.isArray(twj.joins))
        for (const j of twj.joins) if (isNode(j)) relations.push(j.relation)
    }
    for (const r of relations) {
      if (!isNode(r) || !isNode(r.Table)) continue
      this.targets.add(r.Table)
      this.write(r.Table.name)
    }
  }

  /** Table factors of a from-list, by alias and by name. */
  factorsOf(list: unknown): Map<string, Node> {
    const factors = new Map<string, Node>()
    for (const twj of Array.isArray(list) ? list : []) {
      if (!isNode(twj)) continue
      const rels = [
        twj.relation,
        ...(Array.isArray(twj.joins) ? twj.joins.map((j) => (isNode(j) ? j.relation : undefined)) : []),
      ]
      for (const r of rels) {
        if (!isNode(r) || !isNode(r.Table)) continue
        const alias = isNode(r.Table.alias) ? identValue(r.Table.alias.name).toLowerCase() : ''
        if (alias !== '') factors.set(alias, r.Table)
        factors.set(objectName(r.Table.name), r.Table)
      }
    }
    return factors
  }

  /** Statement-specific targets; called for the top-level statement and for nested DML. */
  statement(key: string, body: unknown): void {
    if (!isNode(body)) return
    switch (key) {
      case 'Insert': {
        const table = body.table
        if (isNode(table) && Array.isArray(table.TableName)) this.write(table.TableName)
        else if (Array.isArray(body.table_name)) this.write(body.table_name)
        break
      }
      case 'Update':
        this.writeRelations(body.table, true) // MySQL multi-table UPDATE may change any joined table
        if (body.selection == null) this.unbounded = true
        break
      case 'Delete': {
        const from = isNode(body.from) ? (body.from.WithFromKeyword ?? body.from.WithoutKeyword) : undefined
        if (Array.isArray(body.tables) && body.tables.length > 0) {
          // `DELETE a1, t2 FROM t1 AS a1 JOIN t2 …`: targets name aliases or tables of the from-list.
          const factors = this.factorsOf(from)
          for (const t of body.tables) {
            const factor = factors.get(objectName(t))
            if (factor === undefined) this.write(t)
            else {
              this.targets.add(factor)
              this.write(factor.name)
            }
          }
        } else {
          this.writeRelations(from, false)
        }
        if (body.selection == null) this.unbounded = true
        break
      }
      case 'Drop':
        if (body.object_type === 'Table' || body.object_type === 'View') {
          for (const n of Array.isArray(body.names) ? body.names : []) this.write(n)
        }
        break
      case 'Truncate':
        for (const t of Array.isArray(body.table_names) ? body.table_names : [])
          if (isNode(t)) this.write(t.name)
        break
      case 'CreateTable':
      case 'CreateView':
      case 'AlterTable':
      case 'AlterView':
        this.write(body.name)
        break
      case 'CreateIndex':
        this.write(body.table_name)
        break
      case 'RenameTable':
        break // body is a list; handled in `statementList`
      case 'ExplainTable':
      case 'Analyze':
        if (body.table_name !== undefined) this.reads.add(objectName(body.table_name))
        break
      case 'Call':
        this.functions.add(objectName(body.name))
        break
      case 'LockTables':
        // LOCK TABLES t WRITE blocks every other session's reads and writes of t; READ their writes.
        for (const t of Array.isArray(body.tables) ? body.tables : []) {
          if (!isNode(t)) continue
          const name = objectName(t.table)
          if (isNode(t.lock_type) && 'Write' in t.lock_type) this.writes.add(name)
          else this.reads.add(name)
        }
        break
      case 'Execute':
        this.flags.add('dynamic_sql')
        break
      case 'Prepare':
        this.flags.add('prepare')
        this.flags.add('dynamic_sql')
        break
      case 'Set':
        this.setFlags(body)
        break
    }
  }

  setFlags(body: Node): void {
    const names: unknown[] = []
    if ('SetNames' in body || 'SetNamesDefault' in body) this.flags.add('lexer_setting')
    const single = body.SingleAssignment
    if (isNode(single)) names.push(single.variable)
    const multi = body.MultipleAssignments
    if (isNode(multi) && Array.isArray(multi.assignments))
      for (const a of multi.assignments) if (isNode(a)) names.push(a.name)
    for (const name of names) {
      // `sql_mode`, `@@sql_mode`, `@@session.sql_mode`, `SESSION sql_mode`: the last part, without @@.
      const last = objectName(name).split('.').at(-1)?.replace(/^@@/, '') ?? ''
      if (LEXER_VARIABLES.has(last)) this.flags.add('lexer_setting')
    }
  }

  walk(value: unknown): void {
    if (Array.isArray(value)) {
      for (const v of value) this.walk(v)
      return
    }
    if (!isNode(value)) return
    const ctes =
      isNode(value.with) && Array.isArray(value.with.cte_tables) ? value.with.cte_tables : undefined
    if (ctes !== undefined) {
      // A query with WITH: each CTE body sees the CTEs before it (all of them WITH RECURSIVE); the
      // rest of the query sees all of them. Outside this query the names mean tables again.
      const names = ctes.map((cte) =>
        isNode(cte) && isNode(cte.alias) ? identValue(cte.alias.name).toLowerCase() : '',
      )
      const recursive = (value.with as Node).recursive === true
      ctes.forEach((cte, i) => {
        this.#cteScopes.push(new Set(recursive ? names : names.slice(0, i)))
        try {
          this.walk(cte)
        } finally {
          this.#cteScopes.pop()
        }
      })
      this.#cteScopes.push(new Set(names))
    }
    try {
      this.#members(value, ctes !== undefined)
    } finally {
      if (ctes !== undefined) this.#cteScopes.pop()
    }
  }

  #members(value: Node, skipWith: boolean): void {
    for (const key in value) {
      const child = value[key]
      if (key === 'span' || (skipWith && key === 'with')) continue
      if (this.#predicate === 0 && this.#naming === 0) {
        if (key === 'Identifier' && isNode(child) && typeof child.value === 'string')
          this.projected.add(child.value.toLowerCase())
        else if (key === 'CompoundIdentifier' && Array.isArray(child)) {
          const last = identValue(child[child.length - 1])
          if (last !== '') this.projected.add(last.toLowerCase())
        }
      }
      const predicate = PREDICATE_KEYS.has(key)
      const naming = NAME_KEYS.has(key)
      if (predicate) this.#predicate++
      if (naming) this.#naming++
      try {
        this.#child(key, child)
      } finally {
        if (predicate) this.#predicate--
        if (naming) this.#naming--
      }
    }
  }

  #child(key: string, child: unknown): void {
    if (key === 'Table' && isNode(child) && Array.isArray(child.name)) {
      const name = objectName(child.name)
      const cte = child.name.length === 1 && this.#cteScopes.some((scope) => scope.has(name))
      if (!this.targets.has(child) && !cte) this.reads.add(name)
    } else if (key === 'Function' && isNode(child) && Array.isArray(child.name)) {
      this.functions.add(objectName(child.name))
    } else if (key === 'locks' && Array.isArray(child) && child.length > 0) {
      this.locks = true
    } else if ((key === 'Update' || key === 'Delete' || key === 'Insert') && isNode(child)) {
      this.statement(key, child) // DML nested in a query body or an EXPLAIN
    }
    this.walk(child)
  }
}

/**
 * Facts of one parsed statement; `tokens` are the lexer's for the same statement, `override` what
 * a MariaDB rewrite (mariadb-syntax.ts) hid from the parser.
 */
export function statementFacts(
  statement: unknown,
  tokens: readonly string[] = [],
  override?: PartOverride,
): StatementResult {
  const c = new Collector()
  let key: string
  let body: unknown
  if (typeof statement === 'string') {
    key = statement // unit variants serialize as a bare string, e.g. "UnlockTables"
    body = undefined
  } else if (isNode(statement)) {
    key = Object.keys(statement)[0] ?? ''
    body = statement[key]
  } else {
    key = ''
    body = undefined
  }
  let type = typeOf(key)
  if (key === 'Insert' && isNode(body) && body.replace_into === true) type = 'REPLACE'
  if (key === 'RenameTable' && Array.isArray(body)) {
    for (const r of body)
      if (isNode(r)) {
        c.write(r.old_name)
        c.write(r.new_name)
      }
  }
  // Query bodies can hold DML (`WITH … UPDATE`): the walk calls `statement` for those.
  if (key !== 'Query' && key !== 'Explain') c.statement(key, body)
  c.walk(body)
  if (key === 'Query' && isNode(body) && isNode(body.body)) {
    if ('Insert' in body.body) type = 'INSERT'
    else if ('Update' in body.body) type = 'UPDATE'
    else if ('Delete' in body.body) type = 'DELETE'
  }
  const parsedType = type
  if (override?.type !== undefined) type = override.type
  if (override?.readsAreWrites) {
    for (const r of c.reads) c.writes.add(r)
    c.reads.clear()
  }
  const hasWhere = type === 'UPDATE' || type === 'DELETE' ? !c.unbounded : true
  const functions = [...c.functions].filter((f) => f !== '')
  const effects = statementEffects({ key, body, type, tokens, functions, locks: c.locks })
  return {
    facts: {
      type,
      reads: [...c.reads].filter((t) => t !== ''),
      writes: [...c.writes].filter((t) => t !== ''),
      where: hasWhere,
      functions,
    },
    write: !READ_ONLY.has(parsedType) || c.writes.size > 0 || effects.write || override?.write === true,
    effects: override?.effects ? [...new Set([...effects.effects, ...override.effects])] : effects.effects,
    hint: effects.hint,
    unbounded: c.unbounded,
    flags: [...c.flags],
    projected: c.projected,
  }
}
