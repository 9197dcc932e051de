import { UsageError } from '../internal/args.js'
import type { CommandSpec } from '../internal/command.js'
import { createStyle } from '../internal/io.js'
import { formatPolicyError, isPolicyError, policyErrors } from '../internal/policy-error-format.js'

export const policyCheck: CommandSpec = {
  name: 'policy check',
  summary: 'Load and type-check policy files; print every error with file:line:col',
  usage: 'policy check <file|folder|bundle>...',
  details: `
Loads the policy set exactly as an application would (YAML, schema, CEL syntax and
types, globs, durations) and reports the first problem found in each file.

Exit codes: 0 the policy loads, 1 it has errors, 2 bad usage.
`,
  options: {},
  async run(args, io) {
    if (args.positionals.length === 0) throw new UsageError('give at least one policy file or folder')
    const out = createStyle(io.stdout, io.env)
    const err = createStyle(io.stderr, io.env)
    try {
      const { loadPolicy } = await import('@warden/policy')
      const policy = await loadPolicy(args.positionals)
      io.stdout.write(
        `${out.green('ok')}  ${args.positionals.join(' ')}  ${out.dim(`revision ${policy.revision}`)}\n`,
      )
      return 0
    } catch (error) {
      if (!isPolicyError(error)) throw error
      const errors = policyErrors(error)
      for (const e of errors) io.stderr.write(`${formatPolicyError(e, err, io.cwd)}\n`)
      io.stderr.write(`${errors.length} error${errors.length === 1 ? '' : 's'}\n`)
      return 1
    }
  },
}
