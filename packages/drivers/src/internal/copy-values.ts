import { WardenTypeError } from '@warden/policy'

/**
 * A deep copy of bound values as a driver will send them, taken at the call: arrays, plain objects,
 * Buffers and Dates are copied (getters read once), an object with `toSqlString` (mysql2's raw
 * values) is resolved to its text now. What is decided, shown to an approver and sent is then the
 * same, whatever the caller does with its own values afterwards.
 */
export function copyValues<T>(values: T, depth = 0): T {
  if (depth > 64) throw new WardenTypeError('query values nest more than 64 levels deep')
  if (values === null || typeof values !== 'object') return values
  if (Buffer.isBuffer(values)) return Buffer.from(values) as T
  if (values instanceof Date) return new Date(values.getTime()) as T
  if (Array.isArray(values)) return values.map((v) => copyValues(v, depth + 1)) as T
  const raw = (values as { toSqlString?: unknown }).toSqlString
  if (typeof raw === 'function') {
    const text = String(raw.call(values))
    return Object.freeze({ toSqlString: () => text }) as T
  }
  if (ArrayBuffer.isView(values)) return (values as unknown as Uint8Array).slice() as T
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(values)) out[k] = copyValues(v, depth + 1)
  return out as T
}
