// What a statement's computed result columns may carry: the column names it reads where values flow
// into the result. A field packet gives `UPPER(ssn)` no origin, so masking by origin alone would
// pass it; the masking engine masks such a column like the columns named here (ColumnRef.derivedFrom).
import type { SqlFacts } from '@warden/policy'

const derived = new WeakMap<SqlFacts, readonly string[]>()
const NONE: readonly string[] = Object.freeze([])

export function setDerivedColumns(facts: SqlFacts, columns: Iterable<string>): void {
  const list = Object.freeze([...columns])
  if (list.length > 0) derived.set(facts, list)
}

/** The columns recorded for `facts` by describeMysql (empty for facts it did not make). */
export function derivedColumns(facts: SqlFacts): readonly string[] {
  return derived.get(facts) ?? NONE
}

const tables = new WeakMap<SqlFacts, ReadonlySet<string>>()

/**
 * The base tables a statement reads (lower-cased names without the schema). MariaDB reports a
 * derived table or CTE column with that alias as its `orgTable`; a column whose origin is not one
 * of these is not a base-table column and is masked like a computed one.
 */
export function baseTables(facts: SqlFacts): ReadonlySet<string> {
  let set = tables.get(facts)
  if (set === undefined) {
    set = new Set(facts.tables.map((t) => t.split('.').at(-1)?.toLowerCase() ?? ''))
    tables.set(facts, set)
  }
  return set
}
