// RE2-semantics regular expressions (linear time) for CEL `matches`, compiled once per pattern.
import { RE2JS, RE2JSException } from 're2js'

/** Internal function name the `matches` calls are rebound to (not spellable by a policy author). */
export const RE2_MATCHES = '__warden_re2_matches'

const cache = new Map<string, RE2JS>()
const MAX_CACHE = 1_000

/** Compiles (cached) an RE2 pattern; throws RE2JSException on a bad pattern. */
export function compileRegex(pattern: string): RE2JS {
  let re = cache.get(pattern)
  if (re === undefined) {
    re = RE2JS.compile(pattern)
    if (cache.size >= MAX_CACHE) cache.delete(cache.keys().next().value as string)
    cache.set(pattern, re)
  }
  return re
}

export function isRegexError(e: unknown): e is Error {
  return e instanceof RE2JSException
}
