// Why each rule did or did not match one request: the tool behind `warden explain`.
import type { Decision, Effect } from './decision.js'
import { compileExpression, createRequestEnvironment } from './internal/cel.js'
import type { CelContext } from './internal/request-types.js'

/** One top-level operand of a rule's `when`, evaluated on its own. */
export interface OperandResult {
  /** The operand's CEL text, e.g. `sql.write`. */
  readonly text: string
  /** Its value (`false`, `true`, or another CEL value), undefined when it failed. */
  readonly value?: unknown
  /** Why it failed at evaluation (a missing map key, …). */
  readonly error?: string
  /** The operator joining it with its siblings; `expr` for a `when` that is no `&&`/`||` chain. */
  readonly op: '&&' | '||' | 'expr'
  /** 1-based position among `count` siblings. */
  readonly index: number
  readonly count: number
}

/** Whether one rule matched a request, and for one that did not, what decided. */
export interface RuleExplanation {
  readonly rule: string
  readonly effect: Effect
  readonly shadow: boolean
  readonly source: string
  readonly matched: boolean
  /** The rule's `resources` globs (null: all) and whether the request's resource matches one. */
  readonly resources: { readonly patterns: readonly string[] | null; readonly matched: boolean }
  /** The rule's `when` (null: always true). */
  readonly when: string | null
  /** The whole `when` failed at evaluation. */
  readonly error?: string
  /**
   * For a rule whose `when` was not true: the operands that decided, outermost first. Under `&&`,
   * the first operand that was not true (and, when it is itself a chain, its deciding operand);
   * under `||`, every operand (all were false).
   */
  readonly because: readonly OperandResult[]
}

export interface PolicyExplanation {
  readonly decision: Decision
  readonly rules: readonly RuleExplanation[]
}

/** @internal What explain needs of a compiled rule. */
export interface ExplainableRule {
  readonly name: string
  readonly effect: Effect
  readonly shadow: boolean
  readonly source: string
  readonly resourcePatterns: readonly string[] | null
  readonly whenText: string | null
}

type Node = { op: string; args: unknown; start?: number; end?: number }
type Env = ReturnType<typeof createRequestEnvironment>

const describeError = (e: unknown): string => {
  const err = e as { code?: string; summary?: string; message?: string }
  return `${err?.code ?? 'error'}: ${err?.summary ?? String(err?.message ?? e).split('\n')[0]}`.slice(0, 300)
}

function evaluate(env: Env, text: string, ctx: CelContext): { value?: unknown; error?: string } {
  const compiled = compileExpression(env, text, 'any')
  if (!compiled.ok) return { error: `cannot evaluate on its own: ${compiled.error.message}` }
  try {
    return { value: compiled.fn(ctx) }
  } catch (e) {
    return { error: describeError(e) }
  }
}

function operands(node: Node, op: string): Node[] {
  if (node.op !== op) return [node]
  const [left, right] = node.args as [Node, Node]
  return [...operands(left, op), ...operands(right, op)]
}

/** Unbalanced parentheses in a slice, outside string literals (+ more open, - more closed). */
function parenBalance(text: string): number {
  let depth = 0
  let quote = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote !== '') {
      if (c === '\\') i++
      else if (c === quote) quote = ''
    } else if (c === '"' || c === "'") quote = c
    else if (c === '(') depth++
    else if (c === ')') depth--
  }
  return depth
}

/** A node's text. cel-js ranges can stop short of a closing parenthesis (`!(a in b)`): widen to balance. */
function sliceOf(text: string, node: Node): string {
  let start = node.start ?? 0
  let end = node.end ?? text.length
  let balance = parenBalance(text.slice(start, end))
  while (balance > 0 && end < text.length) {
    if (text[end] === ')') balance--
    else if (!/\s/.test(text[end])) break
    end++
  }
  while (balance < 0 && start > 0) {
    if (text[start - 1] === '(') balance++
    else if (!/\s/.test(text[start - 1])) break
    start--
  }
  return text.slice(start, end).trim()
}

/** The operands of `node` that decided it was not true, outermost first. */
function decide(env: Env, text: string, node: Node, ctx: CelContext): OperandResult[] {
  const op: OperandResult['op'] = node.op === '&&' || node.op === '||' ? node.op : 'expr'
  const parts = op === 'expr' ? [node] : operands(node, op)
  const results = parts.map((part, i) => {
    const slice = sliceOf(text, part)
    return {
      part,
      result: <OperandResult>{
        text: slice,
        ...evaluate(env, slice, ctx),
        op,
        index: i + 1,
        count: parts.length,
      },
    }
  })
  if (op === '||') return results.map((r) => r.result)
  const first = results.find((r) => r.result.value !== true)
  if (first === undefined) return []
  const inner = first.part.op === '&&' || first.part.op === '||'
  return inner && op !== 'expr' ? [first.result, ...decide(env, text, first.part, ctx)] : [first.result]
}

/** @internal Called by Policy.explain with the request completed as decide() completes it. */
export function explainRule(
  rule: ExplainableRule,
  ctx: CelContext,
  resourceMatched: boolean,
  outcome: { value?: unknown; error?: string },
  env: Env,
): RuleExplanation {
  const base = {
    rule: rule.name,
    effect: rule.effect,
    shadow: rule.shadow,
    source: rule.source,
    resources: { patterns: rule.resourcePatterns, matched: resourceMatched },
    when: rule.whenText,
  }
  if (!resourceMatched) return { ...base, matched: false, because: [] }
  if (rule.whenText === null) return { ...base, matched: true, because: [] }
  if (outcome.error !== undefined) return { ...base, matched: false, error: outcome.error, because: [] }
  if (outcome.value === true) return { ...base, matched: true, because: [] }
  let ast: Node
  try {
    ast = env.parse(rule.whenText).ast as unknown as Node
  } catch {
    return { ...base, matched: false, because: [] }
  }
  return { ...base, matched: false, because: decide(env, rule.whenText, ast, ctx) }
}

export { createRequestEnvironment as explainEnvironment }
