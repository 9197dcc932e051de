// Programs that run other programs from their arguments. Each handler finds the command (or the
// script) the wrapper runs, so the describer can report it too (parsers.md §1.1, §6).
import type { ShellFlag } from '@warden/policy'
import { trustedVariable } from './shell-risks.js'
import type { ShellWord } from './shell-words.js'

export interface UnwrapContext {
  /** Describe `words` as a command of its own (argv[0] first). */
  run(words: readonly ShellWord[]): void
  /** Parse a literal script string (sh -c, eval, su -c); a non-literal one fails as dynamic. */
  script(text: string | null, what: string): void
  flag(flag: ShellFlag): void
  /** Mark the text unclassifiable (parsed: false) and raise `flag`. */
  fail(flag: ShellFlag, why: string): void
}

type Handler = (args: readonly ShellWord[], ctx: UnwrapContext) => void

interface OptionSpec {
  /** Short option letters that take an argument. */
  readonly short?: string
  /** Long options (`--name`) that take an argument when not given as `--name=value`. */
  readonly long?: readonly string[]
  /** `+o`-style options (shells). */
  readonly plus?: boolean
}

interface ParsedOptions {
  /** Index of the first operand (args.length when there is none). */
  readonly operand: number
  readonly seen: ReadonlySet<string>
  /** Arguments of options that take one, by letter or long name. */
  readonly values: ReadonlyMap<string, ShellWord>
}

/** getopt-style scan up to the first operand. A non-literal word counts as an operand, so it becomes
 * the command name, which then fails closed as dynamic. */
function options(args: readonly ShellWord[], spec: OptionSpec): ParsedOptions {
  const seen = new Set<string>()
  const values = new Map<string, ShellWord>()
  let i = 0
  for (; i < args.length; i++) {
    const v = args[i].value
    if (v === null) break
    if (v === '--') {
      i++
      break
    }
    if (v.startsWith('--') && v.length > 2) {
      const eq = v.indexOf('=')
      const name = eq < 0 ? v : v.slice(0, eq)
      seen.add(name)
      if (eq >= 0) values.set(name, { text: v.slice(eq + 1), value: v.slice(eq + 1), pattern: false })
      else if (spec.long?.includes(name) && i + 1 < args.length) values.set(name, args[++i])
      continue
    }
    if ((v.startsWith('-') || (spec.plus && v.startsWith('+'))) && v.length > 1) {
      for (let j = 1; j < v.length; j++) {
        const letter = v[j]
        seen.add(letter)
        if (spec.short?.includes(letter)) {
          const rest = v.slice(j + 1)
          if (rest) values.set(letter, { text: rest, value: rest, pattern: false })
          else if (i + 1 < args.length) values.set(letter, args[++i])
          break
        }
      }
      continue
    }
    break
  }
  return { operand: i, seen, values }
}

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/

function skipAssignments(args: readonly ShellWord[], from: number, ctx: UnwrapContext): number {
  let i = from
  while (i < args.length && args[i].value !== null && ASSIGNMENT.test(args[i].value!)) {
    if (trustedVariable(args[i].value!.slice(0, args[i].value!.indexOf('=')))) ctx.flag('runtime_code')
    i++
  }
  if (i > from) ctx.flag('env_assignment')
  return i
}

function literalJoin(words: readonly ShellWord[]): string | null {
  const parts: string[] = []
  for (const w of words) {
    if (w.value === null) return null
    parts.push(w.value)
  }
  return parts.join(' ')
}

const passThrough: Handler = (args, ctx) => {
  const { operand } = options(args, {})
  if (operand < args.length) ctx.run(args.slice(operand))
}

const sudo: Handler = (args, ctx) => {
  ctx.flag('sudo')
  const o = options(args, {
    short: 'ughpCDrtUTR',
    long: [
      '--user',
      '--group',
      '--host',
      '--prompt',
      '--close-from',
      '--chdir',
      '--role',
      '--type',
      '--other-user',
      '--command-timeout',
      '--chroot',
    ],
  })
  if (o.seen.has('e') || o.seen.has('--edit')) return // sudoedit: edits files, runs no command
  const start = skipAssignments(args, o.operand, ctx)
  if (start < args.length) return ctx.run(args.slice(start))
  if (o.seen.has('s') || o.seen.has('i') || o.seen.has('--shell') || o.seen.has('--login'))
    ctx.fail(
      'shell_from_stdin',
      'sudo -s/-i without a command starts a shell that reads its commands from stdin',
    )
}

const doas: Handler = (args, ctx) => {
  ctx.flag('sudo')
  const o = options(args, { short: 'uC' })
  if (o.operand < args.length) return ctx.run(args.slice(o.operand))
  if (o.seen.has('s'))
    ctx.fail('shell_from_stdin', 'doas -s starts a shell that reads its commands from stdin')
}

const su: Handler = (args, ctx) => {
  ctx.flag('sudo')
  const o = options(args, {
    short: 'cgGsw',
    long: ['--command', '--session-command', '--group', '--supp-group', '--shell', '--whitelist-environment'],
  })
  let command = o.values.get('c') ?? o.values.get('--command') ?? o.values.get('--session-command')
  // GNU su permutes its arguments: `su - postgres -c "…"` and `su USER -c …` take -c after the user.
  for (let i = o.operand; !command && i < args.length; i++) {
    const v = args[i].value
    if (v === null) return ctx.fail('dynamic', 'su is given an argument that is not a literal')
    if (/^--(session-)?command=/.test(v))
      command = { text: v, value: v.slice(v.indexOf('=') + 1), pattern: false }
    else if (/^-[A-Za-z]*c$/.test(v) || v === '--command' || v === '--session-command') command = args[i + 1]
  }
  if (command) return ctx.script(command.value, 'su -c')
  ctx.fail('shell_from_stdin', 'su without -c starts a shell that reads its commands from stdin')
}

const env: Handler = (args, ctx) => {
  const o = options(args, { short: 'uCS', long: ['--unset', '--chdir', '--split-string'] })
  const split = o.values.get('S') ?? o.values.get('--split-string')
  if (split) {
    const rest = literalJoin(args.slice(o.operand))
    return ctx.script(split.value === null || rest === null ? null : `${split.value} ${rest}`, 'env -S')
  }
  const start = skipAssignments(args, o.operand, ctx)
  if (start < args.length) ctx.run(args.slice(start))
}

const timeout: Handler = (args, ctx) => {
  const o = options(args, { short: 'sk', long: ['--signal', '--kill-after'] })
  if (o.operand + 1 < args.length) ctx.run(args.slice(o.operand + 1)) // skip the duration
}

const withOptions =
  (spec: OptionSpec, noCommandWith = ''): Handler =>
  (args, ctx) => {
    const o = options(args, spec)
    for (const letter of noCommandWith) if (o.seen.has(letter)) return
    if (o.operand < args.length) ctx.run(args.slice(o.operand))
  }

const chroot: Handler = (args, ctx) => {
  const o = options(args, { long: ['--userspec', '--groups'] })
  if (o.operand + 1 < args.length) return ctx.run(args.slice(o.operand + 1))
  ctx.fail('shell_from_stdin', 'chroot without a command starts a shell that reads its commands from stdin')
}

const watch: Handler = (args, ctx) => {
  const o = options(args, { short: 'nq', long: ['--interval', '--equexit'] })
  const rest = args.slice(o.operand)
  if (rest.length === 0) return
  if (o.seen.has('x') || o.seen.has('--exec')) return ctx.run(rest)
  ctx.script(literalJoin(rest), 'watch') // watch hands its joined arguments to sh -c
}

const ECHO: ShellWord = { text: 'echo', value: 'echo', pattern: false }

const xargs: Handler = (args, ctx) => {
  const o = options(args, {
    short: 'adEILnPs',
    long: ['--arg-file', '--delimiter', '--max-args', '--max-procs', '--max-chars', '--process-slot-var'],
  })
  ctx.run(o.operand < args.length ? args.slice(o.operand) : [ECHO])
}

const EXEC_ACTIONS = new Set(['-exec', '-execdir', '-ok', '-okdir'])

const find: Handler = (args, ctx) => {
  for (let i = 0; i < args.length; i++) {
    if (!EXEC_ACTIONS.has(args[i].value ?? '')) continue
    const start = i + 1
    while (i + 1 < args.length && args[i + 1].value !== ';' && args[i + 1].value !== '+') i++
    if (i + 1 > start) ctx.run(args.slice(start, i + 1))
    i++
  }
}

const shell: Handler = (args, ctx) => {
  const o = options(args, { short: 'oO', long: ['--rcfile', '--init-file'], plus: true })
  if (o.seen.has('c')) {
    if (o.operand >= args.length) return ctx.fail('dynamic', 'a shell -c without its script')
    return ctx.script(args[o.operand].value, 'sh -c')
  }
  if (o.seen.has('--version') || o.seen.has('--help')) return
  if (o.operand < args.length)
    ctx.fail('shell_from_stdin', 'a shell runs a script file whose content is unknown')
  else ctx.fail('shell_from_stdin', 'a shell reads its script from stdin (e.g. curl … | sh)')
}

const evalHandler: Handler = (args, ctx) => {
  if (args.length > 0) ctx.script(literalJoin(args), 'eval')
}

const source: Handler = (_args, ctx) => {
  ctx.fail('shell_from_stdin', 'source/. runs a script file whose content is unknown')
}

/** Interpreters given code on the command line or on stdin. */
const interpreter =
  (letters: string, long: readonly string[] = []): Handler =>
  (args, ctx) => {
    let operand = false
    for (const w of args) {
      const v = w.value
      if (v === null) continue
      if (long.some((l) => v === l || v.startsWith(`${l}=`))) return ctx.flag('interpreter_code')
      if (v.startsWith('-') && !v.startsWith('--') && [...v.slice(1)].some((c) => letters.includes(c)))
        return ctx.flag('interpreter_code')
      if (!v.startsWith('-')) operand = true
    }
    if (!operand) ctx.flag('interpreter_code') // reads its program from stdin
  }

const ssh: Handler = (args, ctx) => {
  const o = options(args, { short: 'BbcDEeFIiJLlmOopQRSWw' })
  if (o.operand + 1 < args.length) ctx.flag('remote_command')
}

const SHELLS = ['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'rbash', 'posh', 'yash']

/** Wrapper handlers by program basename. */
export const WRAPPERS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['sudo', sudo],
  ['doas', doas],
  ['su', su],
  ['env', env],
  ['nohup', passThrough],
  ['setsid', passThrough],
  ['builtin', passThrough],
  ['busybox', passThrough],
  ['!', passThrough],
  ['time', passThrough],
  [
    'coproc',
    (args, ctx) => {
      ctx.flag('background')
      passThrough(args, ctx)
    },
  ],
  ['exec', withOptions({ short: 'a' })],
  ['command', withOptions({}, 'vV')],
  ['timeout', timeout],
  ['nice', withOptions({ short: 'n', long: ['--adjustment'] })],
  ['ionice', withOptions({ short: 'cnp' }, 'pPu')],
  ['stdbuf', withOptions({ short: 'ioe', long: ['--input', '--output', '--error'] })],
  ['chroot', chroot],
  ['watch', watch],
  ['xargs', xargs],
  ['find', find],
  ['eval', evalHandler],
  ['source', source],
  ['.', source],
  ['ssh', ssh],
  ['python', interpreter('c')],
  ['perl', interpreter('eE')],
  ['ruby', interpreter('e')],
  ['node', interpreter('ep', ['--eval', '--print'])],
  ['nodejs', interpreter('ep', ['--eval', '--print'])],
  ['php', interpreter('r')],
  ['lua', interpreter('e')],
  ...SHELLS.map((name) => [name, shell] as [string, Handler]),
])

/** `python3.11` → `python`: versioned interpreter names share a handler. */
export function wrapperFor(program: string): Handler | undefined {
  return WRAPPERS.get(program) ?? WRAPPERS.get(program.replace(/[0-9.]+$/, ''))
}
