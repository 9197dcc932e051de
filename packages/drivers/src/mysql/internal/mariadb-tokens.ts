// Helpers over the lexer's tokens (lexer.ts: bare words upper-cased, a string as `'`, a quoted
// identifier as `` ` ``, anything else as its one character), shared by the MariaDB recognizers.

/** Replace tokens [from, to) with `replacement`; from === to inserts before token `from`. */
export interface Edit {
  readonly from: number // token index
  readonly to: number // exclusive
  readonly replacement: string
}

export const isNumber = (w: string | undefined) => w !== undefined && /^[0-9]+$/.test(w)
export const isName = (w: string | undefined) =>
  w === '`' || (w !== undefined && /^[A-Z_$][A-Z0-9_$]*$/.test(w))

/** The index of the `)` closing the `(` at k, or -1. */
export function closing(t: readonly string[], k: number): number {
  let depth = 0
  for (let i = k; i < t.length; i++) {
    if (t[i] === '(') depth++
    else if (t[i] === ')' && --depth === 0) return i
  }
  return -1
}

/** The parenthesis depth just before token `at`, counting from the `(` at k (which makes it 1). */
export function depthAt(t: readonly string[], k: number, at: number): number {
  let depth = 0
  for (let i = k; i < at; i++) {
    if (t[i] === '(') depth++
    else if (t[i] === ')') depth--
  }
  return depth
}

/** The first `word` at parenthesis depth 0 from token k on, or -1. */
export function topLevel(t: readonly string[], word: string, k: number): number {
  let depth = 0
  for (let i = k; i < t.length; i++) {
    if (t[i] === '(') depth++
    else if (t[i] === ')') depth--
    else if (depth === 0 && t[i] === word) return i
  }
  return -1
}

/** Whether tokens i and i + 1 touch in the text (no space or comment between them). */
export function adjacent(spans: readonly number[], i: number): boolean {
  return spans[2 * i + 1] === spans[2 * i + 2]
}
