import { REQUEST_TYPES } from './internal/request-types.js'

const TYPES = new Map<string, Readonly<Record<string, string>>>(
  REQUEST_TYPES.types.map((t) => [t.name, t.fields]),
)
const VARIABLES = new Map<string, string>(REQUEST_TYPES.variables)
// map-typed fields hold free keys (claims, labels, headers, args); only typed objects are checked
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)

/**
 * The fields of a request (as JSON) that the request model does not have, as dotted paths
 * (`principal.typ`, `sql.statements[0].tabel`, `sqll`): a policy never sees them, so a tool that
 * takes requests from people should refuse them. Map fields (`claims`, `labels`, `args`, …) take any key.
 * Exported from `@warden/policy`.
 * @example unknownRequestFields({ principal: { id: 'a', typ: 'agent' } }) // ['principal.typ']
 */
export function unknownRequestFields(request: unknown): string[] {
  if (!isObject(request)) return []
  const found: string[] = []
  for (const [key, value] of Object.entries(request)) {
    const type = VARIABLES.get(key)
    if (type === undefined) found.push(key)
    else walk(value, type, key, found)
  }
  return found
}

function walk(value: unknown, type: string, path: string, found: string[]): void {
  const list = /^list<(warden\.\w+)>$/.exec(type)
  if (list !== null) {
    if (Array.isArray(value)) for (const [i, v] of value.entries()) walk(v, list[1], `${path}[${i}]`, found)
    return
  }
  const fields = TYPES.get(type)
  if (fields === undefined || !isObject(value)) return
  for (const [key, v] of Object.entries(value)) {
    const fieldType = fields[key]
    if (fieldType === undefined) found.push(`${path}.${key}`)
    else walk(v, fieldType, `${path}.${key}`, found)
  }
}

/** The field names of a request part (`principal`, `sql`, …), for "did you mean" in tools. */
export function requestFieldNames(part?: string): readonly string[] {
  if (part === undefined) return [...VARIABLES.keys()]
  const type = VARIABLES.get(part)
  return type === undefined ? [] : Object.keys(TYPES.get(type) ?? {})
}
