// A principal's claims as frozen data all the way down. The policy caches what it converts (and
// the decisions it makes) only for deep-frozen parts, and a JWT's `aud` list or a nested object
// left mutable would make every command of the session miss. A copy: the caller keeps its own.

const MAX_DEPTH = 32

/** `claims` deep-copied (plain objects and arrays) and frozen; other values are kept as they are. */
export function frozenClaims(claims: unknown): Readonly<Record<string, unknown>> {
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) return Object.freeze({})
  return frozenCopy(claims, 0) as Readonly<Record<string, unknown>>
}

function frozenCopy(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object' || depth > MAX_DEPTH) return v
  if (Array.isArray(v)) return Object.freeze(v.map((x) => frozenCopy(x, depth + 1)))
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return v
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) out[k] = frozenCopy((v as Record<string, unknown>)[k], depth + 1)
  return Object.freeze(out)
}
