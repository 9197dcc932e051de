import { canonicalJson, quoteKey, sortedKeys } from './canonical-json.js'

/**
 * The canonical serialization of a parsed record in one pass: `body` without `hash` (what the hash
 * covers) and `line` with `hash` at its sorted place (what a sink stores). Same output as
 * sealRecord for the same data, so `line === text` proves a stored line is canonical.
 */
export function canonicalLine(record: Record<string, unknown>): { body: string; line: string } {
  const keys = sortedKeys(record)
  let before = '{'
  let after = ''
  let hash: string | undefined
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    const part = quoteKey(key) + canonicalJson(record[key])
    if (key === 'hash') hash = part
    else if (hash === undefined) before += before.length === 1 ? part : `,${part}`
    else after += `,${part}`
  }
  const body = before.length === 1 ? `{${after.slice(1)}}` : `${before}${after}}`
  if (hash === undefined) return { body, line: body }
  const line = before.length === 1 ? `{${hash}${after}}` : `${before},${hash}${after}}`
  return { body, line }
}

/**
 * Why `text` (valid JSON) is not its canonical form `canonical`: a duplicate key when there is one
 * (JSON.parse keeps the last, other readers the first: they disagree about what the line says),
 * else the first byte where the two differ. Cold path: runs only for a line already rejected.
 */
export function nonCanonicalReason(text: string, canonical: string): string {
  const dup = duplicateKey(text)
  if (dup !== undefined)
    return `duplicate key ${JSON.stringify(dup)}: readers disagree about what the line says`
  let i = 0
  while (i < text.length && i < canonical.length && text[i] === canonical[i]) i++
  const near = JSON.stringify(text.slice(Math.max(0, i - 12), i + 12))
  return `line is not in canonical form (key order, whitespace, number form or escapes), first difference at character ${i + 1} near ${near}`
}

/** The first key that repeats within one object of a JSON text, or undefined. */
export function duplicateKey(text: string): string | undefined {
  // A small scanner: tracks the keys of each open object; strings are skipped whole, so braces
  // inside them do not count. `text` is valid JSON (JSON.parse accepted it).
  const stack: (Set<string> | undefined)[] = []
  let expectKey = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22 /* " */) {
      let j = i + 1
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1
      const top = stack[stack.length - 1]
      if (expectKey && top !== undefined) {
        const key = JSON.parse(text.slice(i, j + 1)) as string
        if (top.has(key)) return key
        top.add(key)
        expectKey = false
      }
      i = j
    } else if (c === 0x7b /* { */) {
      stack.push(new Set())
      expectKey = true
    } else if (c === 0x5b /* [ */) {
      stack.push(undefined)
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop()
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== undefined
    }
  }
  return undefined
}
