// Our thin wrapper around @marcbachmann/cel-js (pinned): one typed environment for the request
// model, RE2-semantics `matches`, and compile = parse + rewrite + check, done once at load.
import { type ASTNode, Environment, type EnvironmentOptions, type ParseResult } from '@marcbachmann/cel-js'
import { RE2JS } from 're2js'
import { compileRegex, isRegexError, RE2_MATCHES } from './regex.js'
import { REQUEST_TYPES } from './request-types.js'

/** Structural limits: big enough for any sane rule, small enough that a pasted blob is refused. */
const LIMITS = {
  maxAstNodes: 4_000,
  maxDepth: 64,
  maxListElements: 2_000,
  maxMapEntries: 1_000,
  maxCallArguments: 32,
}

export interface CelCompileError {
  /** 'syntax' | 'type' | 'regex' */
  readonly kind: 'syntax' | 'type' | 'regex'
  readonly code: string
  readonly message: string
  /** Offsets into the expression text. */
  readonly start: number
  readonly end: number
}

export type CompiledExpression = (context: object) => unknown

/** Registers the RE2-backed `matches` under an internal name that policies cannot spell. */
export function registerRe2(env: Environment): Environment {
  const handler = (s: string, pattern: string): boolean => compileRegex(pattern).test(s)
  env.registerFunction(`string.${RE2_MATCHES}(string): bool`, handler)
  env.registerFunction(`${RE2_MATCHES}(string, string): bool`, handler)
  return env
}

/** The environment every policy rule is checked and evaluated in. */
export function createRequestEnvironment(): Environment {
  const env = new Environment({ limits: LIMITS })
  registerRe2(env)
  for (const t of REQUEST_TYPES.types) env.registerType(t.name, { ctor: t.ctor, fields: t.fields })
  for (const [name, type] of REQUEST_TYPES.variables) env.registerVariable(name, type)
  return env
}

/** A permissive environment (undeclared variables are dyn) for conformance runs. */
export function createDynEnvironment(options: EnvironmentOptions = {}): Environment {
  return registerRe2(new Environment({ unlistedVariablesAreDyn: true, limits: LIMITS, ...options }))
}

/**
 * Parses, rewrites every `matches` to RE2 and type-checks `text`.
 * Literal patterns are compiled now, so a bad regex is a load error.
 */
export function compileExpression(
  env: Environment,
  text: string,
  expect: 'bool' | 'any' = 'bool',
): { ok: true; fn: CompiledExpression; type: string; ast: ASTNode } | { ok: false; error: CelCompileError } {
  let parsed: ParseResult
  try {
    parsed = env.parse(text)
  } catch (e) {
    return { ok: false, error: toCompileError('syntax', e, text) }
  }
  const regexError = rewriteMatches(parsed.ast)
  if (regexError) return { ok: false, error: regexError }
  const checked = parsed.check()
  if (!checked.valid) {
    const kind = (checked.error as { name?: string } | undefined)?.name === 'ParseError' ? 'syntax' : 'type'
    return { ok: false, error: toCompileError(kind, checked.error, text) }
  }
  const type = checked.type ?? 'dyn'
  if (expect === 'bool' && type !== 'bool') {
    return {
      ok: false,
      error: {
        kind: 'type',
        code: 'not_bool',
        message: `expression must be a bool, it is a ${type}`,
        start: 0,
        end: text.length,
      },
    }
  }
  return { ok: true, fn: parsed as CompiledExpression, type, ast: parsed.ast }
}

function toCompileError(kind: 'syntax' | 'type', e: unknown, text: string): CelCompileError {
  const err = e as {
    code?: string
    summary?: string
    message?: string
    range?: { start: number; end: number }
  }
  const summary = (err?.summary ?? String(err?.message ?? e).split('\n')[0]).replaceAll(
    RE2_MATCHES,
    'matches',
  )
  return {
    kind,
    code: err?.code ?? 'error',
    message: summary,
    start: Math.max(0, Math.min(err?.range?.start ?? 0, text.length)),
    end: Math.max(0, Math.min(err?.range?.end ?? text.length, text.length)),
  }
}

type Node = ASTNode & { op: string; args: unknown }

// cel-js 8 cannot override the built-in `matches` (JS RegExp, backtracking). Its AST is mutable
// and call nodes resolve their overload by name at check time, so renaming the call before
// check() binds it to our RE2 function. test/regex.test.ts proves a ReDoS pattern stays linear.
function rewriteMatches(root: ASTNode): CelCompileError | undefined {
  let error: CelCompileError | undefined
  const visit = (n: unknown): void => {
    if (error || n === null || typeof n !== 'object') return
    if (Array.isArray(n)) {
      for (const x of n) visit(x)
      return
    }
    const node = n as Node
    if (typeof node.op !== 'string' || !('args' in node)) return
    const args = node.args as unknown[]
    if ((node.op === 'rcall' || node.op === 'call') && args[0] === 'matches') {
      args[0] = RE2_MATCHES
      const params = (node.op === 'rcall' ? args[2] : args[1]) as Node[]
      const pattern = node.op === 'rcall' ? params[0] : params[1]
      if (pattern?.op === 'value' && typeof pattern.args === 'string') {
        try {
          compileRegex(pattern.args)
        } catch (e) {
          const range = (pattern as { range?: { start: number; end: number } }).range
          error = {
            kind: 'regex',
            code: 'invalid_regular_expression',
            message: `invalid RE2 regular expression ${JSON.stringify(pattern.args)}: ${isRegexError(e) ? e.message : String(e)}`,
            start: range?.start ?? 0,
            end: range?.end ?? 0,
          }
          return
        }
      }
    }
    // macros keep their original call node as `args`; walk everything that looks like a node.
    if (node.op !== 'value' && node.op !== 'id') visit(args)
    const alt = (node as unknown as { meta?: { alternate?: unknown; macro?: unknown } }).meta
    if (alt?.alternate) visit(alt.alternate)
  }
  visit(root)
  return error
}

export { RE2JS }
