// Zod issues of a policy document as PolicyErrors pointing at file:line:column.
import type { ZodError } from 'zod'
import { PolicyError } from '../errors.js'
import { type DocPath, formatPath, type SourceText } from './source-map.js'

const samePath = (a: readonly PropertyKey[], b: readonly PropertyKey[]) =>
  a.length === b.length && a.every((p, i) => p === b[i])

/** Every problem of a document that does not fit the schema, one error each. */
export function schemaErrors(source: string, text: SourceText | undefined, error: ZodError): PolicyError[] {
  const unknown = error.issues.filter((i) => i.code === 'unrecognized_keys')
  // a misspelt key also makes the right one "missing": report the unknown key, it is the cause
  const issues = error.issues.filter(
    (i) => i.code === 'unrecognized_keys' || !unknown.some((u) => samePath(u.path, i.path.slice(0, -1))),
  )
  return issues.flatMap((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined]
    return keys.map((key) => {
      const allowed = key === undefined ? undefined : allowedKeys(path)
      const detail =
        key === undefined ? issue.message : `unknown key "${key}"${allowed ? ` (allowed: ${allowed})` : ''}`
      const where = formatPath(path) || undefined
      if (!text) return new PolicyError('ERR_POLICY_SCHEMA', detail, { file: source, path: where })
      const pos = text.position(text.offsetOf(path, key), key?.length ?? 1)
      return new PolicyError('ERR_POLICY_SCHEMA', detail, { file: source, ...pos, path: where })
    })
  })
}

function allowedKeys(path: DocPath): string | undefined {
  const top = path[0]
  const shapes: Record<string, string> = {
    '': 'description, shadow, defaults, rules, masks',
    defaults: 'effect, reason, approval',
    rules: 'name, description, resources, when, effect, reason, approval, shadow, tags',
    masks: 'name, description, resources, when, columns, detectors, strategy, tags, shadow',
  }
  if (path.length === 0) return shapes['']
  if (path.at(-1) === 'approval') return 'approvers, minApprovals, anyOf, timeout'
  if (typeof top === 'string' && (path.length === 1 || path.length === 2)) return shapes[top]
  return undefined
}
