// Maps document paths and CEL error ranges back to file line/column, and draws caret snippets.
import { type Document, isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml'

export interface Position {
  readonly line: number
  readonly column: number
  readonly snippet: string
}

export type DocPath = readonly (string | number)[]

export function formatPath(path: DocPath): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p
  return out
}

/** Draws `  12 | text` and a caret line under [column, column+width). Columns are 1-based. */
export function caretSnippet(lineText: string, line: number | undefined, column: number, width = 1): string {
  const gutter = line === undefined ? '' : `${String(line).padStart(4)} | `
  const pad = line === undefined ? '' : `${' '.repeat(4)} | `
  const w = Math.max(1, Math.min(width, lineText.length - column + 1))
  return `${gutter}${lineText}\n${pad}${' '.repeat(Math.max(0, column - 1))}${'^'.repeat(w)}`
}

/** A parsed YAML/JSON text with position lookups. */
export class SourceText {
  readonly doc: Document
  readonly #lines: LineCounter
  readonly text: string

  constructor(text: string) {
    this.text = text
    this.#lines = new LineCounter()
    this.doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false, uniqueKeys: true })
  }

  position(offset: number, width = 1): Position {
    const { line, col } = this.#lines.linePos(Math.max(0, Math.min(offset, this.text.length)))
    const start = this.#lines.lineStarts[line - 1] ?? 0
    const end = this.text.indexOf('\n', start)
    const lineText = this.text.slice(start, end < 0 ? undefined : end).replace(/\r$/, '')
    return { line, column: col, snippet: caretSnippet(lineText, line, col, width) }
  }

  /** Offset of the value (or of the key, for unknown-key errors) at `path`. */
  offsetOf(path: DocPath, key?: string): number {
    let node: unknown = this.doc.contents
    let offset = 0
    for (const p of path) {
      const n = node as { range?: [number, number, number] } | null
      if (n?.range) offset = n.range[0]
      if (isMap(node) || (node as { items?: unknown } | null)?.items) {
        const coll = node as { items: unknown[]; get?: (k: unknown, keep: boolean) => unknown }
        if (typeof p === 'number') node = coll.items[p]
        else {
          const pair = coll.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === p)
          node = isPair(pair) ? pair.value : undefined
          if (isPair(pair) && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0]
        }
      } else break
    }
    const n = node as { range?: [number, number, number] } | null
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && it.key.value === key)
      if (pair && isScalar(pair.key) && pair.key.range) return pair.key.range[0]
    }
    return n?.range ? n.range[0] : offset
  }

  /**
   * Source offset of character `index` of the string scalar at `path`. YAML quoting, escapes
   * and folding mean the expression is not a plain slice of the file, so look for the text at
   * the error (the k-th occurrence, as in the expression) inside the scalar's source; failing
   * that, the expression's line; failing that, the scalar's start.
   */
  offsetInScalar(path: DocPath, expression: string, index: number, end = index): number {
    const node = this.doc.getIn(path as (string | number)[], true)
    if (!isScalar(node) || !node.range) return this.offsetOf(path)
    const [start, stop] = node.range
    const src = this.text.slice(start, stop)
    const needle = /^[^"'\\\n]*/.exec(expression.slice(index, Math.max(end, index + 1)))?.[0] ?? ''
    if (needle.length > 0) {
      let k = 0
      for (let i = expression.indexOf(needle); i >= 0 && i < index; i = expression.indexOf(needle, i + 1)) k++
      let at = -1
      for (let n = 0; n <= k; n++) {
        at = src.indexOf(needle, at + 1)
        if (at < 0) break
      }
      if (at >= 0) return start + at
    }
    const lineStart = expression.lastIndexOf('\n', index - 1) + 1
    const lineEnd = expression.indexOf('\n', index)
    const exprLine = expression.slice(lineStart, lineEnd < 0 ? undefined : lineEnd)
    const found = exprLine.length > 0 ? src.indexOf(exprLine) : -1
    return found < 0 ? start : start + found + (index - lineStart)
  }
}

/** Caret snippet for an expression with no file behind it (in-memory documents). */
export function expressionSnippet(
  expression: string,
  start: number,
  end: number,
): { line: number; column: number; snippet: string } {
  const lineStart = expression.lastIndexOf('\n', start - 1) + 1
  const lineEnd = expression.indexOf('\n', start)
  const text = expression.slice(lineStart, lineEnd < 0 ? undefined : lineEnd)
  const line = expression.slice(0, lineStart).split('\n').length
  const column = start - lineStart + 1
  return { line, column, snippet: caretSnippet(text, undefined, column, end - start) }
}
