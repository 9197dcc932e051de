// Globs for `resources` (`kind:name`) and mask `columns`: `*` any run, `?` one character.
// Compiled once at load into the cheapest matcher that fits (equality, prefix, suffix, general).
import type { ResourceKind } from '../request.js'

export type Matcher = (s: string) => boolean

const KINDS: readonly ResourceKind[] = ['postgres', 'mysql', 'ssh', 'kubernetes', 'http', 'tool']
const NAME = /^[A-Za-z0-9_.*?/@:+=-]+$/
const COLUMN = /^[A-Za-z0-9_*?$@#\-[\]]+(?:\.[A-Za-z0-9_*?$@#\-[\]]+)*$/

/** Compiles a glob into a matcher. Linear-ish two-pointer wildcard match, no backtracking blowup. */
export function compileGlob(glob: string): Matcher {
  if (glob === '*') return () => true
  const stars = glob.split('*').length - 1
  if (!glob.includes('?')) {
    if (stars === 0) return (s) => s === glob
    if (stars === 1 && glob.endsWith('*')) {
      const prefix = glob.slice(0, -1)
      return (s) => s.startsWith(prefix)
    }
    if (stars === 1 && glob.startsWith('*')) {
      const suffix = glob.slice(1)
      return (s) => s.endsWith(suffix)
    }
  }
  return (s) => wildcard(glob, s)
}

function wildcard(p: string, s: string): boolean {
  let i = 0
  let j = 0
  let star = -1
  let mark = 0
  while (j < s.length) {
    if (i < p.length && (p[i] === '?' || p[i] === s[j])) {
      i++
      j++
    } else if (i < p.length && p[i] === '*') {
      star = i++
      mark = j
    } else if (star >= 0) {
      i = star + 1
      j = ++mark
    } else return false
  }
  while (i < p.length && p[i] === '*') i++
  return i === p.length
}

export interface ResourceGlob {
  readonly kind: Matcher
  readonly name: Matcher
}

/** Validates and compiles `kind:name`; returns a problem description instead when malformed. */
export function compileResourceGlob(text: string): ResourceGlob | string {
  const colon = text.indexOf(':')
  if (colon <= 0) return `resource glob "${text}" must be kind:name (e.g. "postgres:orders-*")`
  const kind = text.slice(0, colon)
  const name = text.slice(colon + 1)
  if (kind !== '*' && !KINDS.includes(kind as ResourceKind)) {
    return `resource glob "${text}": unknown kind "${kind}" (one of ${KINDS.join(', ')}, or *)`
  }
  if (name === '' || !NAME.test(name))
    return `resource glob "${text}": the name part must be a non-empty glob of [A-Za-z0-9_.*?/@:+=-]`
  return { kind: compileGlob(kind), name: compileGlob(name) }
}

/** Validates a column glob (`email`, `*.ssn`, `customers.phone`); returns a problem or undefined. */
export function checkColumnGlob(text: string): string | undefined {
  if (!COLUMN.test(text))
    return `column glob "${text}" must be column or table.column, with * and ? wildcards`
  return undefined
}
