// Scrubs values out of PostgreSQL errors with the command's mask plan (drivers.md §1.2): the
// server puts row values in `detail` (`Key (ssn)=(123-45-6789) already exists.`, `Failing row
// contains (...)`) and sometimes in `message`/`where`. Only when the decision carries masks.
import type { Masker } from '@warden/core'

const REDACTED = '[redacted]'
const TEXT_FIELDS = ['message', 'detail', 'hint', 'where', 'internalQuery'] as const
/** A double-quoted value as the server prints it (an inner quote is doubled). */
const QUOTED = /"(?:[^"]|"")*"/g

export function scrubError(error: Error, masker: Masker | null): Error {
  if (masker === null || error === null || typeof error !== 'object') return error
  const e = error as unknown as Record<string, unknown>
  const table =
    typeof e.table === 'string'
      ? typeof e.schema === 'string'
        ? `${e.schema}.${e.table}`
        : e.table
      : undefined
  if (typeof e.detail === 'string') e.detail = scrubDetail(e.detail, masker, table)
  // Data exceptions (class 22: a failed cast or parse) quote the offending value, which may be a
  // masked column's (`invalid input syntax for type integer: "123-45-6789"`): quoted text goes.
  const dataException = typeof e.code === 'string' && e.code.startsWith('22')
  for (const field of TEXT_FIELDS) {
    const value = e[field]
    if (typeof value !== 'string') continue
    // The context of a data exception can echo the input unquoted (`JSON data, line 1: 123-45...`).
    if (dataException && field === 'where') e[field] = REDACTED
    else e[field] = masker.text(dataException ? value.replace(QUOTED, `"${REDACTED}"`) : value)
  }
  if (typeof error.stack === 'string') error.stack = `${error.name}: ${error.message}`
  return error
}

/** `Key (a, b)=(x, y) ...`: the value list is redacted when any key column is masked. Failing rows always are. */
function scrubDetail(detail: string, masker: Masker, table: string | undefined): string {
  if (detail.startsWith('Failing row contains (')) return `Failing row contains (${REDACTED}).`
  const open = detail.indexOf('Key (')
  if (open < 0) return detail
  const close = detail.indexOf(')=(', open)
  if (close < 0) return detail
  const columns = detail
    .slice(open + 5, close)
    .split(', ')
    .map((name) => ({ name: name.replace(/^"|"$/g, ''), table }))
  const valuesStart = close + 3
  const valuesEnd = findValuesEnd(detail, valuesStart)
  if (!masker.plan(columns).active) return detail
  return `${detail.slice(0, valuesStart)}${REDACTED}${detail.slice(valuesEnd)}`
}

/** The server prints values unquoted, so take the last `)` before the sentence's known endings. */
function findValuesEnd(detail: string, from: number): number {
  for (const ending of [
    ') already exists.',
    ') is not present in table',
    ') is still referenced from table',
    ') conflicts with existing key',
  ]) {
    const at = detail.lastIndexOf(ending)
    if (at >= from) return at
  }
  const last = detail.lastIndexOf(')')
  return last >= from ? last : detail.length
}
