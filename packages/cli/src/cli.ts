import { readFileSync } from 'node:fs'
import { approvalsReviewerToken } from './commands/approvals-reviewer-token.js'
import { approvalsServe } from './commands/approvals-serve.js'
import { auditKeygen } from './commands/audit-keygen.js'
import { auditReplay } from './commands/audit-replay.js'
import { auditVerify } from './commands/audit-verify.js'
import { demoCommand, runDemoCommand } from './commands/demo-command.js'
import { describeCommand } from './commands/describe.js'
import { explainCommand } from './commands/explain.js'
import { policyBacktest } from './commands/policy-backtest.js'
import { policyCheck } from './commands/policy-check.js'
import { policyEval } from './commands/policy-eval.js'
import { policyTest } from './commands/policy-test.js'
import { parseCommandArgs, UsageError } from './internal/args.js'
import { CliError } from './internal/cli-error.js'
import type { CommandSpec } from './internal/command.js'
import { createStyle, type Io, processIo } from './internal/io.js'
import { closest } from './internal/suggest.js'

const COMMANDS: readonly CommandSpec[] = [
  policyCheck,
  policyTest,
  policyEval,
  policyBacktest,
  describeCommand,
  explainCommand,
  auditVerify,
  auditReplay,
  auditKeygen,
  approvalsServe,
  approvalsReviewerToken,
  demoCommand,
]

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

function overview(io: Io): string {
  const style = createStyle(io.stdout, io.env)
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  const lines = COMMANDS.map((c) => `  ${style.bold(c.name.padEnd(width))}  ${c.summary}`)
  return [
    'warden: in-process access policy for non-human identities',
    '',
    'Usage: warden <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `warden <command> --help` for the options of one command.',
    '',
    'Exit codes: 0 ok, 1 the check failed (errors found, tests failed, chain broken, decisions changed),',
    '            2 the command could not run (bad usage, unreadable input, policy does not load).',
    '',
  ].join('\n')
}

export function commandHelp(spec: CommandSpec): string {
  return [`Usage: warden ${spec.usage}`, '', spec.summary, '', spec.details.trim(), ''].join('\n')
}

function findCommand(argv: readonly string[]): { spec: CommandSpec; rest: string[] } | undefined {
  for (const spec of COMMANDS) {
    const words = spec.name.split(' ')
    if (words.every((w, i) => argv[i] === w)) return { spec, rest: argv.slice(words.length) }
  }
  return undefined
}

/** `unknown command "polcy chek" (did you mean "warden policy check"?)`, judged word by word. */
function unknownCommand(argv: readonly string[]): string {
  const words = argv.filter((a) => !a.startsWith('-'))
  const typed = (n: number) => words.slice(0, n).join(' ')
  const names = COMMANDS.map((c) => c.name)
  // a near command of the same length in words, then a near group ("polcy" → policy)
  const hint =
    closest(
      typed(2),
      names.filter((n) => n.includes(' ')),
    ) ??
    closest(
      typed(1),
      names.filter((n) => !n.includes(' ')),
    ) ??
    closest(typed(1), [...new Set(names.map((n) => n.split(' ')[0]))])
  const shown = typed(Math.min(2, words.length)) || argv[0]
  return `unknown command "${shown}"${hint === undefined ? '' : ` (did you mean "warden ${hint}"?)`}`
}

/**
 * Runs one `warden` invocation and resolves to its exit code. Never throws: expected
 * failures print one line on stderr; unexpected ones print their message (no stack
 * unless WARDEN_DEBUG is set).
 */
export async function runCli(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const errStyle = createStyle(io.stderr, io.env)
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    const target = argv[0] === 'help' ? findCommand(argv.slice(1)) : undefined
    io.stdout.write(target ? commandHelp(target.spec) : overview(io))
    return 0
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    io.stdout.write(`${version()}\n`)
    return 0
  }
  const found = findCommand(argv)
  if (found === undefined) {
    const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `))
    if (group.length > 0 && (argv[1] === undefined || argv[1] === '--help' || argv[1] === '-h')) {
      const width = Math.max(...group.map((c) => c.name.length))
      io.stdout.write(
        `Commands:\n${group.map((c) => `  warden ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}\n`,
      )
      return argv[1] === undefined ? 2 : 0
    }
    io.stderr.write(`${errStyle.red('error')}: ${unknownCommand(argv)}\n`)
    io.stderr.write('Run `warden --help` for the list of commands.\n')
    return 2
  }
  const { spec, rest } = found
  try {
    // The demo parses its own options.
    if (spec === demoCommand) return await runDemoCommand(rest)
    const args = parseCommandArgs(rest, spec.options)
    if (args.values.help === true) {
      io.stdout.write(commandHelp(spec))
      return 0
    }
    return await spec.run(args, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${errStyle.red('error')}: ${error.message}\nUsage: warden ${spec.usage}\n`)
      io.stderr.write(`Run \`warden ${spec.name} --help\` for details.\n`)
      return 2
    }
    if (error instanceof CliError) {
      io.stderr.write(`${errStyle.red('error')}: ${error.message}\n`)
      return error.exitCode
    }
    const err = error as Error & { code?: string }
    io.stderr.write(
      `${errStyle.red('error')}: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(error)}\n`,
    )
    if (io.env.WARDEN_DEBUG) io.stderr.write(`${err.stack ?? ''}\n`)
    return 2
  }
}
