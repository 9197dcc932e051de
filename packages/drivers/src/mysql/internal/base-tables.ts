import type { SqlFacts } from '@warden/policy'

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
