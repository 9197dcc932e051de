// What a statement's computed result columns (`upper(ssn)`, `row_to_json(c)`) may carry: the column
// names its output expressions read, `*` for a whole row. Such a column has no table origin on the
// wire, so the masking engine masks it like the columns named here (ColumnRef.derivedFrom). Each SQL
// describer records them for the facts it makes; the drivers read them back when masks apply.
import type { SqlFacts } from '@warden/policy'

const derived = new WeakMap<SqlFacts, readonly string[]>()
const NONE: readonly string[] = Object.freeze([])
/** Anything: every column rule applies to every computed column. */
export const ANY_ROW: readonly string[] = Object.freeze(['*'])

export function setDerivedColumns(facts: SqlFacts, columns: Iterable<string>): void {
  const list = Object.freeze([...columns])
  if (list.length > 0) derived.set(facts, list)
}

/**
 * The columns recorded for `facts`; for text the parser could not read (a policy may still allow
 * it), anything.
 */
export function derivedColumns(facts: SqlFacts): readonly string[] {
  if (!facts.parsed) return ANY_ROW
  return derived.get(facts) ?? NONE
}
