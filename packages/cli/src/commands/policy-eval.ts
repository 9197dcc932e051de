import type { Decision, Policy } from '@warden/policy'
import { flag, requireOption, UsageError } from '../internal/args.js'
import type { CommandSpec } from '../internal/command.js'
import { createStyle, type Style } from '../internal/io.js'
import { loadPolicyArgs } from '../internal/policy-args.js'
import { formatPolicyError, isPolicyError, policyErrors } from '../internal/policy-error-format.js'
import { parseRequest, readRequestText } from '../internal/request-input.js'

const EFFECT_COLOR = { allow: 'green', deny: 'red', approve: 'yellow' } as const satisfies Record<
  Decision['effect'],
  keyof Style
>

export function paintEffect(style: Style, effect: Decision['effect']): string {
  return style[EFFECT_COLOR[effect]](effect)
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

export function formatDecision(decision: Decision, style: Style): string {
  const lines = [
    `${style.bold('effect')}    ${paintEffect(style, decision.effect)}`,
    `${style.bold('rule')}      ${decision.rule}`,
    `${style.bold('reason')}    ${decision.reason || style.dim('(none)')}`,
  ]
  if (decision.approval) {
    const who = decision.approval.approvers.length > 0 ? decision.approval.approvers.join(', ') : 'anyone'
    lines.push(`${style.bold('approval')}  by ${who}, timeout ${formatDuration(decision.approval.timeout)}`)
  }
  for (const mask of decision.masks) {
    const what = [...mask.columns, ...mask.detectors.map((d) => `detector:${d}`)].join(', ')
    lines.push(`${style.bold('mask')}      ${mask.name} (${mask.strategy}: ${what})`)
  }
  lines.push(
    `${style.bold('matched')}${decision.matched.length === 0 ? `   ${style.dim('no rule (default applied)')}` : ''}`,
  )
  const width = Math.max(0, ...decision.matched.map((m) => m.rule.length))
  for (const m of decision.matched) {
    const notes = [m.shadow ? 'shadow' : '', m.error ? `error: ${m.error}` : ''].filter(Boolean).join('; ')
    lines.push(
      `  ${m.rule.padEnd(width)}  ${paintEffect(style, m.effect)}${notes ? style.dim(`  (${notes})`) : ''}`,
    )
  }
  lines.push(`${style.bold('revision')}  ${style.dim(decision.revision)}`)
  return `${lines.join('\n')}\n`
}

export const policyEval: CommandSpec = {
  name: 'policy eval',
  summary: 'Decide one request against a policy and explain which rules matched',
  usage: 'policy eval --request <json|file|-> [--json] <policy>...',
  details: `
Options:
  --request <json|file|->    the request: inline JSON, a JSON file (or @file), or - for stdin.
                             A partial request is completed with empty fields, e.g.
                             {"principal":{"id":"ci","type":"service"},"resource":{"kind":"postgres",
                              "name":"orders"},"action":"sql.query","sql":{"types":["DELETE"],"write":true}}
                             A line of an audit log (a command record) is a request too: its
                             principal, resource and facts at its recorded time.
                             Fields the request model does not have are refused.
  --json                     print the decision as JSON

A policy of "-" is read from stdin (then the request cannot be).

Exit codes: 0 decided (whatever the effect), 2 bad usage or input, or the policy does not load.
`,
  options: { request: { type: 'string', short: 'r' }, json: { type: 'boolean' } },
  async run(args, io) {
    const requestArg = requireOption(args, 'request')
    if (args.positionals.length === 0)
      throw new UsageError('give the policy file(s) or folder to evaluate against')
    if (args.positionals.includes('-') && (requestArg === '-' || requestArg === '@-'))
      throw new UsageError('stdin can carry the policy or the request, not both')
    const { text, from } = await readRequestText(requestArg, io.cwd)
    const request = await parseRequest(text, from)
    let policy: Policy
    try {
      policy = await loadPolicyArgs(args.positionals)
    } catch (error) {
      if (!isPolicyError(error)) throw error
      const style = createStyle(io.stderr, io.env)
      for (const e of policyErrors(error)) io.stderr.write(`${formatPolicyError(e, style, io.cwd)}\n`)
      return 2
    }
    const decision = policy.decide(request)
    if (flag(args, 'json')) io.stdout.write(`${JSON.stringify(decision, null, 2)}\n`)
    else io.stdout.write(formatDecision(decision, createStyle(io.stdout, io.env)))
    return 0
  },
}
