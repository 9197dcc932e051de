// Views under masks. MariaDB describes a view's result column as a column of its own (orgTable: the
// view or its alias, orgName: the view's column name), so `CREATE VIEW v AS SELECT email AS
// contact …` would hand `contact` over as a plain base-table column no rule names. So the views the
// account can see are read from information_schema.VIEWS once per client (pool or connection), and
// a statement that reads one treats every column that is not from one of its base tables as
// computed from everything its views' definitions read (through views of views): masked whole when
// any of that is masked. A definition the account may not read (no SHOW VIEW), cannot be parsed, or
// views that cannot be listed fail closed: such columns are computed from anything (`*`).
import type { SqlFacts } from '@warden/policy'
import { ANY_ROW, derivedColumns } from '../../internal/derived-columns.js'
import { describeMysql } from '../describe.js'
import { createQuery, type Mysql2Connection } from '../mysql2-internals.js'
import { baseTables } from './base-tables.js'
import { withTicket } from './guard.js'

/** What a statement's result columns may carry (see guard.ts `Lineage`). */
export interface ViewLineage {
  readonly derivedFrom: readonly string[]
  readonly baseTables: ReadonlySet<string>
}

interface View {
  readonly schema: string
  readonly definition: string
}
/** Views by lower-case name (any schema); null when they could not be listed. */
type Views = ReadonlyMap<string, readonly View[]> | null

const VIEWS_SQL =
  'SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, VIEW_DEFINITION AS d FROM information_schema.VIEWS'
// Statements after which the list may be stale: the client reads it again after they end.
const DDL = new Set(['CREATE', 'ALTER', 'DROP', 'RENAME', 'CREATE VIEW', 'ALTER VIEW', 'DROP VIEW'])
const MAX_DEPTH = 16
const UNKNOWN: ViewLineage = Object.freeze({ derivedFrom: ANY_ROW, baseTables: new Set<string>() })

const listed = new WeakMap<object, Promise<Views>>()
const lineages = new WeakMap<SqlFacts, { views: Views; lineage: ViewLineage | undefined }>()

/**
 * The lineage for `facts` when it reads a view (or the views could not be listed), else undefined
 * (the statement's own lineage stands). `owner` is the client whose list is kept. Never throws.
 */
export async function viewLineage(
  owner: object,
  conn: Mysql2Connection,
  facts: SqlFacts,
): Promise<ViewLineage | undefined> {
  if (facts.reads.length === 0) return undefined
  let list = listed.get(owner)
  if (list === undefined) {
    list = listViews(conn)
    listed.set(owner, list)
  }
  const views = await list
  if (views === null) {
    listed.delete(owner) // try again next time; meanwhile fail closed
    return UNKNOWN
  }
  const hit = lineages.get(facts)
  if (hit !== undefined && hit.views === views) return hit.lineage
  const lineage = await lineageOf(facts, views)
  lineages.set(facts, { views, lineage })
  return lineage
}

/** DDL may make, change or drop a view. */
export const isDdl = (facts: SqlFacts): boolean => facts.write && facts.types.some((t) => DDL.has(t))

/** The next statement through `owner` reads its list of views again. */
export function forgetViews(owner: object): void {
  listed.delete(owner)
}

function listViews(conn: Mysql2Connection): Promise<Views> {
  return new Promise<Views>((resolve) => {
    const done = (err: unknown, rows: unknown) => {
      if (err || !Array.isArray(rows)) return resolve(null)
      const views = new Map<string, View[]>()
      for (const row of rows as { s: unknown; n: unknown; d: unknown }[]) {
        const name = String(row.n).toLowerCase()
        const view = {
          schema: String(row.s).toLowerCase(),
          definition: typeof row.d === 'string' ? row.d : '',
        }
        views.set(name, [...(views.get(name) ?? []), view])
      }
      resolve(views)
    }
    try {
      const cmd = createQuery(VIEWS_SQL, undefined, done, conn.config)
      withTicket({ text: VIEWS_SQL, masker: null, typeCast: undefined }, () => conn.query(cmd))
    } catch {
      resolve(null)
    }
  })
}

/** The views a table name as written (`t`, `db.t`, quoted or not) may be. */
function viewsNamed(table: string, views: NonNullable<Views>): readonly View[] {
  const parts = table.split('.').map((p) => p.replace(/^[`"]|[`"]$/g, '').toLowerCase())
  const found = views.get(parts.at(-1) ?? '') ?? []
  const schema = parts.length > 1 ? parts.at(-2) : undefined
  return schema === undefined ? found : found.filter((v) => v.schema === schema)
}

async function lineageOf(facts: SqlFacts, views: NonNullable<Views>): Promise<ViewLineage | undefined> {
  const read = facts.reads.filter((t) => viewsNamed(t, views).length > 0)
  if (read.length === 0) return undefined
  const carried = new Set(derivedColumns(facts))
  for (const table of read) for (const column of await readsOfView(table, views, 0)) carried.add(column)
  // A view's name (or an alias of it) is no base table: its columns are computed ones.
  const viewNames = new Set(
    read.map((t) =>
      t
        .split('.')
        .at(-1)
        ?.replace(/^[`"]|[`"]$/g, '')
        .toLowerCase(),
    ),
  )
  const base = new Set([...baseTables(facts)].filter((t) => !viewNames.has(t)))
  return Object.freeze({
    derivedFrom: carried.has('*') ? ANY_ROW : Object.freeze([...carried]),
    baseTables: base,
  })
}

/** Every column the definitions of the views `table` may be read, through views of views. */
async function readsOfView(
  table: string,
  views: NonNullable<Views>,
  depth: number,
): Promise<readonly string[]> {
  if (depth > MAX_DEPTH) return ANY_ROW
  const out = new Set<string>()
  for (const view of viewsNamed(table, views)) {
    if (view.definition === '') return ANY_ROW // the account may not read it (no SHOW VIEW)
    const described = describeMysql(view.definition)
    const facts = described instanceof Promise ? await described : described
    if (!facts.parsed) return ANY_ROW
    for (const column of derivedColumns(facts)) out.add(column)
    // A view of views: what the inner ones read is carried too (their columns are named as theirs).
    for (const inner of facts.reads) {
      if (viewsNamed(inner, views).length === 0) continue
      for (const column of await readsOfView(inner, views, depth + 1)) out.add(column)
    }
  }
  return out.has('*') ? ANY_ROW : [...out]
}
