import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import type { Style } from './io.js'

export interface PolicyErrorLike {
  readonly code: string
  readonly message: string
  readonly file?: string
  readonly line?: number
  readonly column?: number
  readonly snippet?: string
  /** The bare problem, without location (PolicyError); `message` is used when absent. */
  readonly detail?: string
  /** Document path, e.g. `rules[2].when`. */
  readonly path?: string
}

/** True for a policy load error (code ERR_POLICY_*) of any install of @warden/policy. */
export function isPolicyError(error: unknown): error is PolicyErrorLike {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('ERR_POLICY_')
}

/** The individual errors of a load failure (a loader may aggregate several into `errors`). */
export function policyErrors(error: PolicyErrorLike): readonly PolicyErrorLike[] {
  const nested = (error as { errors?: unknown }).errors
  if (Array.isArray(nested) && nested.length > 0 && nested.every(isPolicyError)) return nested
  return [error]
}

function caretSnippet(file: string, line: number, column: number): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return ''
  }
  const source = text.split(/\r?\n/)[line - 1]
  if (source === undefined) return ''
  const gutter = String(line).length
  return [
    `  ${String(line)} | ${source}`,
    `  ${' '.repeat(gutter)} | ${' '.repeat(Math.max(0, column - 1))}^`,
  ].join('\n')
}

/**
 * `file:line:col: error CODE: message` and a caret under the column, like a compiler.
 * The loader's own snippet wins when it has one.
 */
export function formatPolicyError(error: PolicyErrorLike, style: Style, cwd: string): string {
  const rel = error.file ? relative(cwd, error.file) : ''
  // Paths under the working directory print relative; others as given.
  const file = error.file ? (rel && !rel.startsWith('..') ? rel : error.file) : '<policy>'
  const where = error.line ? `${file}:${error.line}:${error.column ?? 1}` : file
  // PolicyError's message already embeds position and snippet; print its parts instead.
  const message =
    error.detail !== undefined ? `${error.detail}${error.path ? ` (at ${error.path})` : ''}` : error.message
  const head = `${style.bold(where)}: ${style.red('error')} ${style.dim(error.code)}: ${message}`
  let snippet = error.snippet?.trimEnd() ?? ''
  if (snippet === '' && error.file && error.line)
    snippet = caretSnippet(error.file, error.line, error.column ?? 1)
  return snippet === '' ? head : `${head}\n${snippet}`
}
