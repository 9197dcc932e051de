// Canonical JSON for audit hashing: object keys sorted by UTF-16 code units, no whitespace,
// `undefined` members dropped (as JSON.stringify does). Values reach here as plain JSON data
// (strings, finite numbers, booleans, null, arrays, objects); Dates are turned into ISO strings.
// The same function re-canonicalizes a parsed line in verifyChain, so it must be a pure function of
// the JSON data model.

export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null'
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      return value.toString()
    case 'object': {
      if (value === null) return 'null'
      if (Array.isArray(value)) {
        let out = '['
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ','
          const v = value[i]
          out += v === undefined || typeof v === 'function' ? 'null' : canonicalJson(v)
        }
        return `${out}]`
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString())
      const toJSON = (value as { toJSON?: () => unknown }).toJSON
      if (typeof toJSON === 'function') return canonicalJson(toJSON.call(value))
      return canonicalObject(value as Record<string, unknown>, undefined)
    }
    default:
      return 'null'
  }
}

/** Canonical JSON of an object; `skip` names one top-level key left out (the record's own `hash`). */
export function canonicalObject(value: Record<string, unknown>, skip: string | undefined): string {
  const keys = Object.keys(value).sort()
  let out = '{'
  let first = true
  for (const key of keys) {
    if (key === skip) continue
    const v = value[key]
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
    if (!first) out += ','
    first = false
    out += `${JSON.stringify(key)}:${canonicalJson(v)}`
  }
  return `${out}}`
}
