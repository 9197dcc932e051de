import { UsageError } from '../internal/args.js'
import type { CommandSpec } from '../internal/command.js'
import { createStyle } from '../internal/io.js'
import { formatPolicyError, isPolicyError, policyErrors } from '../internal/policy-error-format.js'
import { runPolicyTests } from '../internal/upstream.js'

interface CaseResultLike {
  readonly file?: string
  readonly name: string
  readonly ok?: boolean
  readonly passed?: boolean
  readonly message?: string
}

export const policyTest: CommandSpec = {
  name: 'policy test',
  summary: 'Run policy test files (*_test.yaml) and report each case',
  usage: 'policy test <file|folder>...',
  details: `
Each *_test.yaml names the policy it tests and lists requests with the expected effect
(and optionally rule and masks). Folders are searched for *_test.yaml.

Exit codes: 0 every case passed, 1 some cases failed, 2 a policy or test file does not
load (or bad usage).
`,
  options: {},
  async run(args, io) {
    if (args.positionals.length === 0) throw new UsageError('give test files or folders')
    const err = createStyle(io.stderr, io.env)
    let result: unknown
    try {
      result = await runPolicyTests(args.positionals)
    } catch (error) {
      if (!isPolicyError(error)) throw error
      for (const e of policyErrors(error)) io.stderr.write(`${formatPolicyError(e, err, io.cwd)}\n`)
      return 2
    }
    const cases = ((result as { cases?: CaseResultLike[] }).cases ?? []) as CaseResultLike[]
    const s = createStyle(io.stdout, io.env)
    let failed = 0
    for (const c of cases) {
      const ok = c.ok ?? c.passed ?? false
      if (!ok) failed++
      io.stdout.write(`${ok ? s.green('pass') : s.red('FAIL')}  ${c.file ? `${c.file}: ` : ''}${c.name}\n`)
      if (!ok && c.message) io.stdout.write(`      ${c.message.split('\n').join('\n      ')}\n`)
    }
    io.stdout.write(`\n${cases.length - failed} passed, ${failed} failed\n`)
    return failed > 0 ? 1 : 0
  },
}
