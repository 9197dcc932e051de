import type { OperandResult, RequestInput, RuleExplanation } from '@warden/policy'
import { flag, requireOption, stringOption, UsageError } from '../internal/args.js'
import { CliError } from '../internal/cli-error.js'
import type { CommandSpec } from '../internal/command.js'
import { DESCRIBE_HELP, DESCRIBE_OPTIONS, describeFromArgs } from '../internal/describe-input.js'
import { createStyle, type Style } from '../internal/io.js'
import { loadPolicyArgs } from '../internal/policy-args.js'
import { formatPolicyError, isPolicyError, policyErrors } from '../internal/policy-error-format.js'
import { parseRequest, readRequestText } from '../internal/request-input.js'
import { reviveRequest } from '../internal/request-json.js'
import { paintEffect } from './policy-eval.js'

const show = (value: unknown): string =>
  typeof value === 'bigint'
    ? String(value)
    : value instanceof Date
      ? value.toISOString()
      : JSON.stringify(value)

const outcome = (b: OperandResult) => (b.error !== undefined ? `an error (${b.error})` : show(b.value))

/** The deciding operands in words: `sql.write` is false (operand 2 of 3 of &&); within it, … */
export function formatBecause(because: readonly OperandResult[]): string {
  const parts: string[] = []
  for (let i = 0; i < because.length; ) {
    const b = because[i]
    if (b.op === '||') {
      const group = because.slice(i, i + b.count)
      parts.push(
        `none of the ${b.count} operands of || is true: ${group.map((g) => `\`${g.text}\` is ${outcome(g)}`).join(', ')}`,
      )
      i += b.count
      continue
    }
    const where = b.op === '&&' ? ` (operand ${b.index} of ${b.count} of &&)` : ''
    parts.push(`\`${b.text}\` is ${outcome(b)}${where}`)
    i++
  }
  return parts.join('; within it, ')
}

function why(r: RuleExplanation, request: { kind: string; name: string }): string {
  if (!r.resources.matched)
    return `not in scope: resource ${request.kind}:${request.name} matches none of ${(r.resources.patterns ?? []).join(', ')}`
  if (r.error !== undefined)
    return `error: ${r.error} (an erroring deny denies, an erroring approve needs approval)`
  if (r.matched) return r.when === null ? 'matched (no when)' : 'matched'
  return `no match: ${formatBecause(r.because) || `\`${r.when}\` is not true`}`
}

function formatRules(
  rules: readonly RuleExplanation[],
  style: Style,
  request: { kind: string; name: string },
): string {
  const width = Math.max(0, ...rules.map((r) => r.rule.length))
  return rules
    .map((r) => {
      const mark = r.matched ? style.green('✓') : r.error !== undefined ? style.red('!') : style.dim('✗')
      const shadow = r.shadow ? style.dim(' (shadow)') : ''
      return `  ${mark} ${r.rule.padEnd(width)}  ${paintEffect(style, r.effect).padEnd(7 + (style.enabled ? 10 : 0))}  ${why(r, request)}${shadow}`
    })
    .join('\n')
}

function principalFrom(value: string | undefined, groups: string | undefined): Record<string, unknown> {
  const list =
    groups === undefined
      ? []
      : groups
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean)
  if (value === undefined) return { id: 'cli', type: 'service', groups: list }
  if (value.trimStart().startsWith('{')) {
    try {
      return { groups: list, ...(JSON.parse(value) as object) }
    } catch (error) {
      throw new CliError(`--principal is not valid JSON: ${(error as Error).message}`, 2)
    }
  }
  const at = value.indexOf(':')
  return at < 0
    ? { id: value, type: 'service', groups: list }
    : { type: value.slice(0, at), id: value.slice(at + 1), groups: list }
}

export const explainCommand: CommandSpec = {
  name: 'explain',
  summary: 'Show, rule by rule, why a request is allowed, denied or held, and what decided',
  usage:
    'explain --policy <path|-> (--request <json|file|-> | --sql/--shell/--http/--kube … [--principal P] [--resource KIND:NAME]) [--json]',
  details: `
Decides the request and lists every rule: matched, not in scope (its resources globs), or not
matched, with the part of its \`when\` that decided. Each top-level operand of an && or ||
chain is evaluated on its own: under &&, the first operand that is not true (and inside it, if
it is a parenthesized chain, the operands that decided); under ||, every operand (none was true).

Options:
  --policy <path|->          policy file, folder or bundle; - reads one policy from stdin
  --request <json|file|->    the request (as for policy eval; an audit log line works too)
${DESCRIBE_HELP}
  --principal P              with --sql…: [type:]id (e.g. agent:agent-7; type defaults to
                             service) or a JSON principal
  --groups g1,g2             with --sql…: the principal's groups
  --resource KIND:NAME       with --sql…: the resource (kind defaults to the command's, e.g.
                             postgres; name to "")
  --json                     print {decision, rules} as JSON

Exit codes: 0 explained (whatever the decision), 2 bad usage or input, or the policy does not load.
`,
  options: {
    ...DESCRIBE_OPTIONS,
    policy: { type: 'string', short: 'p' },
    request: { type: 'string', short: 'r' },
    principal: { type: 'string' },
    groups: { type: 'string' },
    resource: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(args, io) {
    const policyPath = requireOption(args, 'policy')
    const positionals = [...args.positionals]
    const requestArg = stringOption(args, 'request')
    const described = await describeFromArgs(args, positionals)
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`)
    if ((requestArg === undefined) === (described === undefined))
      throw new UsageError('give either --request or one of --sql, --shell, --http, --kube')
    if (policyPath === '-' && requestArg === '-')
      throw new UsageError('stdin can carry the policy or the request, not both')
    let request: RequestInput
    if (requestArg !== undefined) {
      for (const o of ['principal', 'groups', 'resource'])
        if (stringOption(args, o) !== undefined)
          throw new UsageError(`--${o} goes with --sql/--shell/--http/--kube; a --request has its own`)
      const { text, from } = await readRequestText(requestArg, io.cwd)
      request = await parseRequest(text, from)
    } else {
      const d = described!
      const resource = stringOption(args, 'resource') ?? ''
      const at = resource.indexOf(':')
      request = reviveRequest({
        principal: principalFrom(stringOption(args, 'principal'), stringOption(args, 'groups')),
        resource:
          at < 0
            ? { kind: d.kind, name: resource }
            : { kind: resource.slice(0, at), name: resource.slice(at + 1) },
        action: d.action,
        [d.family]: d.facts,
      })
    }
    let explanation: ReturnType<Awaited<ReturnType<typeof loadPolicyArgs>>['explain']>
    try {
      explanation = (await loadPolicyArgs([policyPath])).explain(request)
    } catch (error) {
      if (!isPolicyError(error)) throw error
      const style = createStyle(io.stderr, io.env)
      for (const e of policyErrors(error)) io.stderr.write(`${formatPolicyError(e, style, io.cwd)}\n`)
      return 2
    }
    if (flag(args, 'json')) {
      io.stdout.write(
        `${JSON.stringify(explanation, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n`,
      )
      return 0
    }
    const s = createStyle(io.stdout, io.env)
    const { decision, rules } = explanation
    const r = (request as { resource?: { kind?: string; name?: string } }).resource
    if (described !== undefined && stringOption(args, 'resource') === undefined)
      io.stdout.write(
        s.dim(`resource  ${r?.kind}: with no name (--resource KIND:NAME for rules scoped by name)\n`),
      )
    io.stdout.write(
      `${s.bold('decision')}  ${paintEffect(s, decision.effect)} by ${decision.rule}: ${decision.reason}\n` +
        `${s.bold('rules')}${rules.length === 0 ? `     ${s.dim('(none)')}` : ''}\n` +
        (rules.length > 0 ? `${formatRules(rules, s, { kind: r?.kind ?? '', name: r?.name ?? '' })}\n` : ''),
    )
    return 0
  },
}
