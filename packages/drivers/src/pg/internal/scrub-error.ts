// Scrubs values out of PostgreSQL errors (drivers.md §1.2): the server puts row values in `detail`
// (`Key (ssn)=(123-45-6789) already exists.`, `Failing row contains (...)`) and quotes the input of
// a failed cast or parse in `message`/`where`. Those values may be bound parameters, which are never
// recorded or echoed: when the statement has parameters they go whether or not the decision masks
// (and each parameter value is taken out of the text literally); under masks they go too, and
// detectors and known masked values are taken out of the rest of the text. A statement with
// neither keeps the server's message (its values are in the recorded text already).
import type { Masker } from '@warden/core'

const REDACTED = '[redacted]'
const TEXT_FIELDS = ['message', 'detail', 'hint', 'where', 'internalQuery'] as const
/** A double-quoted value as the server prints it (an inner quote is doubled). */
const QUOTED = /"(?:[^"]|"")*"/g

export function scrubError(error: Error, masker: Masker | null, values?: unknown): Error {
  if (error === null || typeof error !== 'object') return error
  const params = Array.isArray(values) ? values : []
  if (masker === null && params.length === 0) return error
  const e = error as unknown as Record<string, unknown>
  const table =
    typeof e.table === 'string'
      ? typeof e.schema === 'string'
        ? `${e.schema}.${e.table}`
        : e.table
      : undefined
  if (typeof e.detail === 'string') e.detail = scrubDetail(e.detail, params.length > 0 ? null : masker, table)
  // Data exceptions (class 22: a failed cast or parse) quote the offending value, which may be a
  // masked column's (`invalid input syntax for type integer: "123-45-6789"`): quoted text goes.
  const dataException = typeof e.code === 'string' && e.code.startsWith('22')
  for (const field of TEXT_FIELDS) {
    const value = e[field]
    if (typeof value !== 'string') continue
    // The context of a data exception can echo the input unquoted (`JSON data, line 1: 123-45...`).
    if (dataException && field === 'where') e[field] = REDACTED
    else {
      const out = withoutValues(dataException ? value.replace(QUOTED, `"${REDACTED}"`) : value, params)
      e[field] = masker === null ? out : masker.text(out)
    }
  }
  if (typeof error.stack === 'string') error.stack = `${error.name}: ${error.message}`
  return error
}

/** `text` with each parameter value (3 characters or more, so `1` does not eat digits) replaced. */
function withoutValues(text: string, params: readonly unknown[]): string {
  let out = text
  for (const v of params) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') continue
    const str = String(v)
    if (str.length >= 3 && out.includes(str)) out = out.split(str).join(REDACTED)
  }
  return out
}

/**
 * `Key (a, b)=(x, y) ...`: the value list is redacted when the statement has parameters (it may be
 * one) or, under masks (`masker` given), when a key column is masked. Failing rows always are.
 */
function scrubDetail(detail: string, masker: Masker | null, table: string | undefined): string {
  if (detail.startsWith('Failing row contains (')) return `Failing row contains (${REDACTED}).`
  const open = detail.indexOf('Key (')
  if (open < 0) return detail
  const close = detail.indexOf(')=(', open)
  if (close < 0) return detail
  const valuesStart = close + 3
  const valuesEnd = findValuesEnd(detail, valuesStart)
  // No parameters, masks on: the values are table data; only a masked key column's must go.
  if (masker !== null) {
    const columns = detail
      .slice(open + 5, close)
      .split(', ')
      .map((name) => ({ name: name.replace(/^"|"$/g, ''), table }))
    if (!masker.plan(columns).active) return detail
  }
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
