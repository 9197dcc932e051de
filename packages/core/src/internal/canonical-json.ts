// Canonical JSON for audit hashing: object keys sorted by UTF-16 code units, no whitespace,
// `undefined` members dropped (as JSON.stringify does). Values reach here as plain JSON data
// (strings, finite numbers, booleans, null, arrays, objects); Dates are turned into ISO strings.
// The same function re-canonicalizes a parsed line in verifyChain, so it must be a pure function of
// the JSON data model.

// Deep-frozen objects (describer facts, a session's principal, resource refs) are serialized once:
// they are shared by every command that uses them, and cannot change.
const frozen = new WeakMap<object, string>()

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
      const cached = frozen.get(value)
      if (cached !== undefined) return cached
      const out = serializeObject(value)
      if (Object.isFrozen(value) && deepFrozen(value)) frozen.set(value, out)
      return out
    }
    default:
      return 'null'
  }
}

function deepFrozen(value: object): boolean {
  for (const v of Object.values(value)) {
    if (v !== null && typeof v === 'object' && !frozen.has(v) && !(Object.isFrozen(v) && deepFrozen(v)))
      return false
  }
  return true
}

function serializeObject(value: object): string {
  {
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
}

// Quoted keys, computed once per distinct key (records reuse a small set of keys).
const quoted = new Map<string, string>()
export function quoteKey(key: string): string {
  let q = quoted.get(key)
  if (q === undefined) {
    q = `${JSON.stringify(key)}:`
    if (quoted.size < 10_000) quoted.set(key, q)
  }
  return q
}

/** Own keys in canonical order (most objects are built in that order already: then no sort). */
export function sortedKeys(value: object): string[] {
  const keys = Object.keys(value)
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1] > keys[i]) return keys.sort()
  }
  return keys
}

/** Canonical JSON of an object; `skip` names one top-level key left out (the record's own `hash`). */
export function canonicalObject(value: Record<string, unknown>, skip: string | undefined): string {
  const keys = sortedKeys(value)
  let out = '{'
  let first = true
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    if (key === skip) continue
    const v = value[key]
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
    if (!first) out += ','
    first = false
    out += quoteKey(key) + canonicalJson(v)
  }
  return `${out}}`
}
