import type { PolicyWarning } from '@warden/policy'
import { flag, UsageError } from '../internal/args.js'
import type { CommandSpec } from '../internal/command.js'
import { createStyle, type Style } from '../internal/io.js'
import { loadPolicyArgs } from '../internal/policy-args.js'
import {
  formatPolicyError,
  isPolicyError,
  type PolicyErrorLike,
  policyErrors,
} from '../internal/policy-error-format.js'

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** One error or warning as JSON: code, the bare problem, and where. */
const toJson = (e: PolicyErrorLike | PolicyWarning) => ({
  code: e.code,
  message: e.detail ?? (e as PolicyErrorLike).message,
  file: e.file,
  line: e.line,
  column: e.column,
  path: e.path,
})

function formatWarning(w: PolicyWarning, style: Style, cwd: string): string {
  // the error formatter's layout, with "warning" in place of "error"
  const text = formatPolicyError({ ...w, message: w.detail }, style, cwd)
  return text.replace(style.red('error'), style.yellow('warning'))
}

export const policyCheck: CommandSpec = {
  name: 'policy check',
  summary: 'Load and type-check policy files; print every error with file:line:col',
  usage: 'policy check [--json] [--strict] <file|folder|bundle|->...',
  details: `
Loads the policy set exactly as an application would (YAML, schema, CEL syntax and
types, globs, durations) and reports every problem found, in every file (in a file whose
structure is wrong, the when expressions are still checked). "-" reads one policy from stdin.

It also warns about what loads but cannot be meant, e.g. principal.type == "agnet"
(principal.type is one of service, agent, workload, user): such a comparison never matches.

Options:
  --json     print {ok, revision, errors: [...], warnings: [...]} (code, message, file,
             line, column, path each)
  --strict   warnings fail the check too (exit 1)

Exit codes: 0 the policy loads, 1 it has errors (or warnings, with --strict), 2 bad usage.
`,
  options: { json: { type: 'boolean' }, strict: { type: 'boolean' } },
  async run(args, io) {
    if (args.positionals.length === 0) throw new UsageError('give at least one policy file or folder')
    const out = createStyle(io.stdout, io.env)
    const err = createStyle(io.stderr, io.env)
    let errors: readonly PolicyErrorLike[] = []
    let warnings: readonly PolicyWarning[] = []
    let revision: string | undefined
    try {
      const policy = await loadPolicyArgs(args.positionals)
      warnings = policy.warnings
      revision = policy.revision
    } catch (error) {
      if (!isPolicyError(error)) throw error
      errors = policyErrors(error)
    }
    const failed = errors.length > 0 || (flag(args, 'strict') && warnings.length > 0)
    if (flag(args, 'json')) {
      const result = { ok: !failed, revision, errors: errors.map(toJson), warnings: warnings.map(toJson) }
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
      return failed ? 1 : 0
    }
    for (const e of errors) io.stderr.write(`${formatPolicyError(e, err, io.cwd)}\n`)
    for (const w of warnings) io.stderr.write(`${formatWarning(w, err, io.cwd)}\n`)
    if (errors.length > 0) {
      const also = warnings.length > 0 ? `, ${plural(warnings.length, 'warning')}` : ''
      io.stderr.write(`${plural(errors.length, 'error')}${also}\n`)
      return 1
    }
    const note = warnings.length > 0 ? `  ${out.yellow(plural(warnings.length, 'warning'))}` : ''
    io.stdout.write(
      `${failed ? out.red('failed') : out.green('ok')}  ${args.positionals.join(' ')}  ${out.dim(`revision ${revision}`)}${note}\n`,
    )
    return failed ? 1 : 0
  },
}
