import { WardenTypeError } from '@warden/policy'
// Column and JSON-path globs: `email`, `*.ssn`, `customers.phone`, `public.cust*.e?ail`.
// Segments are split on `.`; `*` and `?` match within one segment. Matching is case-insensitive
// (SQL identifiers fold case) and uses the two-pointer wildcard algorithm, O(pattern × input)
// with no backtracking blow-up, because JSON keys come from untrusted bodies.

export interface PathGlob {
  readonly source: string
  /** Lower-cased segments, last one is the column (or key). */
  readonly segments: readonly string[]
}

export function compileGlob(source: string): PathGlob {
  if (typeof source !== 'string' || source.length === 0)
    throw new WardenTypeError('mask column pattern must be a non-empty string')
  const segments = source.toLowerCase().split('.')
  if (segments.some((s) => s.length === 0))
    throw new WardenTypeError(`mask column pattern "${source}" has an empty segment`)
  return { source, segments }
}

export function wildcard(pattern: string, input: string): boolean {
  if (pattern === '*') return true
  let p = 0
  let s = 0
  let star = -1
  let mark = 0
  while (s < input.length) {
    const c = pattern.charCodeAt(p)
    if (p < pattern.length && (c === 63 /* ? */ || c === input.charCodeAt(s))) {
      p++
      s++
    } else if (p < pattern.length && c === 42 /* * */) {
      star = p++
      mark = s
    } else if (star >= 0) {
      p = star + 1
      s = ++mark
    } else return false
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++
  return p === pattern.length
}

/**
 * Does a result column match? `names` are the output name and the origin name (alias source);
 * `table` is `schema.table` or `table`, or undefined when the driver could not tell (an expression):
 * then a `table.column` pattern matches on the column part alone, which masks more, never less.
 */
export function matchColumn(
  glob: PathGlob,
  names: readonly string[],
  table: readonly string[] | undefined,
): boolean {
  const segs = glob.segments
  const column = segs[segs.length - 1]
  if (!names.some((n) => wildcard(column, n))) return false
  if (segs.length === 1 || table === undefined) return true
  // Align the pattern's table segments with the table's from the right; pattern segments the
  // table lacks (a schema on an unqualified table) are unknown, so they match.
  for (let i = segs.length - 2, j = table.length - 1; i >= 0 && j >= 0; i--, j--) {
    if (!wildcard(segs[i], table[j])) return false
  }
  return true
}

/** Does a JSON key path (array indices left out) match? The pattern matches the path's last segments. */
export function matchPath(glob: PathGlob, path: readonly string[]): boolean {
  const segs = glob.segments
  if (segs.length > path.length) return false
  for (let i = segs.length - 1, j = path.length - 1; i >= 0; i--, j--) {
    if (!wildcard(segs[i], path[j].toLowerCase())) return false
  }
  return true
}
