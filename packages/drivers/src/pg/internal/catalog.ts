// The table catalog the wire guard masks by: a RowDescription names a column by (table OID,
// attnum), and this maps it back to `schema.table` and the column name. A view or materialized
// view column carries no origin past the view, and PostgreSQL keeps no per-column lineage, so a
// view's columns are treated as computed from every column its definition reads (pg_depend of its
// _RETURN rule, through views of views): `SELECT contact FROM v` where v renames `email` is masked
// like `email`, and so is every other column of v (fail closed).
import type { TableInfo } from './wire-guard.js'

export const CATALOG_SQL = `SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind, a.attnum, a.attname
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'`

/** What each view's rewrite rule reads: (view, relation, attnum), attnum 0 for a whole row. */
export const VIEW_READS_SQL = `SELECT r.ev_class::int8 AS view, d.refobjid::int8 AS rel, d.refobjsubid AS att
FROM pg_catalog.pg_rewrite r
JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> r.ev_class
  AND r.rulename = '_RETURN'`

export interface CatalogRow {
  oid: string
  nspname: string
  relname: string
  relkind: string
  attnum: number
  attname: string
}

export interface ViewReadRow {
  view: string
  rel: string
  att: number
}

const ANYTHING: readonly string[] = Object.freeze(['*'])

export function buildCatalog(
  rows: readonly CatalogRow[],
  viewReads: readonly ViewReadRow[],
): Map<number, TableInfo> {
  const columns = new Map<number, Map<number, string>>()
  const names = new Map<number, string>()
  const views = new Set<number>()
  for (const row of rows) {
    const oid = Number(row.oid)
    let cols = columns.get(oid)
    if (cols === undefined) {
      cols = new Map()
      columns.set(oid, cols)
      names.set(oid, `${row.nspname}.${row.relname}`)
      if (row.relkind === 'v' || row.relkind === 'm') views.add(oid)
    }
    cols.set(row.attnum, row.attname)
  }
  const edges = new Map<number, { rel: number; att: number }[]>()
  for (const e of viewReads) {
    const view = Number(e.view)
    let list = edges.get(view)
    if (list === undefined) {
      list = []
      edges.set(view, list)
    }
    list.push({ rel: Number(e.rel), att: Number(e.att) })
  }
  const resolved = new Map<number, readonly string[]>()
  const resolve = (view: number, visiting: Set<number>): readonly string[] => {
    const done = resolved.get(view)
    if (done !== undefined) return done
    // A cycle cannot be built in PostgreSQL; if the catalog changed under us, mask everything.
    if (visiting.has(view)) return ANYTHING
    visiting.add(view)
    const out = new Set<string>()
    for (const { rel, att } of edges.get(view) ?? []) {
      const cols = columns.get(rel)
      if (views.has(rel)) for (const c of resolve(rel, visiting)) out.add(c)
      else if (cols === undefined)
        out.add('*') // a relation outside the catalog (system, another kind)
      else if (att === 0) for (const c of cols.values()) out.add(c)
      else out.add(cols.get(att) ?? '*')
    }
    visiting.delete(view)
    const list = out.has('*') ? ANYTHING : Object.freeze([...out])
    resolved.set(view, list)
    return list
  }
  const catalog = new Map<number, TableInfo>()
  for (const [oid, cols] of columns) {
    const table = names.get(oid) as string
    catalog.set(
      oid,
      views.has(oid) ? { table, columns: cols, reads: resolve(oid, new Set()) } : { table, columns: cols },
    )
  }
  return catalog
}
