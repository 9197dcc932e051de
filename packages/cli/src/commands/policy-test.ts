import { relative } from 'node:path'
import type { PolicyTestReport } from '@warden/policy'
import { flag, UsageError } from '../internal/args.js'
import type { CommandSpec } from '../internal/command.js'
import { createStyle } from '../internal/io.js'
import { formatPolicyError, isPolicyError, policyErrors } from '../internal/policy-error-format.js'

export const policyTest: CommandSpec = {
  name: 'policy test',
  summary: 'Run policy test files (*_test.yaml) and report each case',
  usage: 'policy test [--json] <file|folder>...',
  details: `
Each *_test.yaml names the policies it tests (default: its own folder) and lists requests
with the expected effect, and optionally rule, reason, masks and matched rules. Folders are
searched for *_test.yaml. A failing case prints the expected (-) and actual (+) values.

Options:
  --json   print the report as JSON

Exit codes: 0 every case passed, 1 some cases failed, 2 a test file or the policy it tests
does not load (or bad usage).
`,
  options: { json: { type: 'boolean' } },
  async run(args, io) {
    if (args.positionals.length === 0) throw new UsageError('give test files or folders')
    const err = createStyle(io.stderr, io.env)
    let report: PolicyTestReport
    try {
      const { runPolicyTests } = await import('@warden/policy')
      report = await runPolicyTests(args.positionals)
    } catch (error) {
      if (!isPolicyError(error)) throw error
      for (const e of policyErrors(error)) io.stderr.write(`${formatPolicyError(e, err, io.cwd)}\n`)
      return 2
    }
    const broken = report.results.filter((r) => r.error !== undefined)
    const failed = report.results.filter((r) => !r.ok && r.error === undefined)
    const code = broken.length > 0 ? 2 : failed.length > 0 ? 1 : 0
    if (flag(args, 'json')) {
      const plain = report.results.map((r) => ({
        ...r,
        ...(r.error
          ? {
              error: {
                code: r.error.code,
                message: r.error.detail ?? r.error.message,
                file: r.error.file,
                line: r.error.line,
                column: r.error.column,
              },
            }
          : {}),
      }))
      io.stdout.write(
        `${JSON.stringify({ passed: report.passed, failed: failed.length, errors: broken.length, results: plain }, null, 2)}\n`,
      )
      return code
    }
    const s = createStyle(io.stdout, io.env)
    let suite: string | undefined
    for (const r of report.results) {
      if (r.suite !== suite) {
        suite = r.suite
        const file = relative(io.cwd, r.file) || r.file
        io.stdout.write(
          `${s.bold(r.suite === r.file ? file : r.suite)}${r.suite === r.file ? '' : s.dim(`  ${file}`)}\n`,
        )
      }
      if (r.error !== undefined) {
        io.stdout.write(`  ${s.red('ERROR')} ${r.name}\n`)
        io.stdout.write(`${indent(formatPolicyError(r.error, s, io.cwd), 8)}\n`)
      } else if (r.ok) {
        io.stdout.write(`  ${s.green('pass')}  ${r.name}\n`)
      } else {
        io.stdout.write(`  ${s.red('FAIL')}  ${r.name}\n`)
        for (const d of r.diff)
          io.stdout.write(`        ${d.startsWith('-') ? s.red(d) : d.startsWith('+') ? s.green(d) : d}\n`)
      }
    }
    const summary =
      `${report.results.length - failed.length - broken.length} passed, ${failed.length} failed` +
      (broken.length > 0 ? `, ${broken.length} could not load` : '')
    io.stdout.write(`\n${code === 0 ? s.green(summary) : s.red(summary)}\n`)
    return code
  },
}

function indent(text: string, n: number): string {
  return text
    .split('\n')
    .map((line) => ' '.repeat(n) + line)
    .join('\n')
}
