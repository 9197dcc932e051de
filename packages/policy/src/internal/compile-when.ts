// Compiling a rule's or mask's `when`: CEL errors located in the file, warnings collected.
import { PolicyError, type WardenErrorCode } from '../errors.js'
import type { PolicyWarning } from '../policy.js'
import { type CompiledExpression, compileExpression, type createRequestEnvironment } from './cel.js'
import { readsVolatile, volatileExpressions } from './decision-cache.js'
import { findEnumLiteralProblems } from './enum-literals.js'
import { type DocPath, expressionSnippet, formatPath, type SourceText } from './source-map.js'

/** Runs one check; a PolicyError is collected (then `after`), and `fallback` stands in for the result. */
export type Attempt = <T>(fn: () => T, fallback: T, after?: (e: PolicyError) => void) => T

/** The document behind a schema error, so its expressions can still be checked. */
const SHAPELESS = new WeakMap<PolicyError, ShapelessDoc>()
interface ShapelessDoc {
  readonly source: string
  readonly text?: SourceText
  readonly raw: unknown
}

export function rememberShapeless(error: PolicyError, doc: ShapelessDoc): void {
  SHAPELESS.set(error, doc)
}

/** Type-checks the `when`s of a document that failed the schema, so one pass reports every error. */
export function checkWhens(error: PolicyError, scope: Omit<CelScope, 'l'>, attempt: Attempt): void {
  const doc = SHAPELESS.get(error)
  if (doc === undefined || doc.raw === null || typeof doc.raw !== 'object') return
  const l = { source: doc.source, text: doc.text }
  for (const list of ['rules', 'masks'] as const) {
    const items = (doc.raw as Record<string, unknown>)[list]
    if (!Array.isArray(items)) continue
    items.forEach((item, i) => {
      const when = (item as { when?: unknown } | null)?.when
      if (typeof when === 'string' && when !== '')
        attempt(() => compileWhen({ ...scope, l }, when, [list, i, 'when']), null)
    })
  }
}

export interface CelScope {
  readonly env: ReturnType<typeof createRequestEnvironment>
  /** The source the expression is in: its name, and its text for positions. */
  readonly l: { readonly source: string; readonly text?: SourceText }
  readonly warnings: PolicyWarning[]
}

/** Compiles one `when` (a bool): errors thrown with position, enum-literal warnings collected. */
export function compileWhen(
  { env, l, warnings }: CelScope,
  expression: string,
  path: DocPath,
): CompiledExpression {
  const r = compileExpression(env, expression, 'bool')
  if (r.ok) {
    if (readsVolatile(r.ast)) volatileExpressions.add(r.fn)
    for (const p of findEnumLiteralProblems(r.ast)) {
      const detail = `${p.field} is never ${JSON.stringify(p.literal)}: this comparison cannot match (${p.field} is one of ${p.allowed.join(', ')})`
      const where = formatPath(path)
      if (!l.text) {
        const { snippet } = expressionSnippet(expression, p.start, p.end)
        warnings.push({ code: 'WARN_POLICY_ENUM_LITERAL', detail, file: l.source, path: where, snippet })
        continue
      }
      const pos = l.text.position(l.text.offsetInScalar(path, expression, p.start, p.end), p.end - p.start)
      warnings.push({ code: 'WARN_POLICY_ENUM_LITERAL', detail, file: l.source, ...pos, path: where })
    }
    return r.fn
  }
  const e = r.error
  const code: WardenErrorCode =
    e.kind === 'syntax'
      ? 'ERR_POLICY_CEL_SYNTAX'
      : e.kind === 'regex'
        ? 'ERR_POLICY_REGEX'
        : 'ERR_POLICY_CEL_TYPE'
  const detail = `${e.kind === 'syntax' ? 'CEL syntax error' : e.kind === 'regex' ? 'bad regular expression' : 'CEL type error'}: ${e.message} [${e.code}]`
  if (!l.text) {
    const pos = expressionSnippet(expression, e.start, e.end)
    return throwing(
      new PolicyError(code, detail, { file: l.source, path: formatPath(path), snippet: pos.snippet }),
    )
  }
  const offset = l.text.offsetInScalar(path, expression, e.start, e.end)
  const pos = l.text.position(offset, Math.max(1, e.end - e.start))
  return throwing(new PolicyError(code, detail, { file: l.source, ...pos, path: formatPath(path) }))
}

function throwing(e: PolicyError): never {
  throw e
}
