import { describeShell, loadShellParser } from '@warden/drivers/ssh'
import type { ShellFacts } from '@warden/policy'
import { beforeAll, describe, expect, test } from 'vitest'

beforeAll(() => loadShellParser())

const describeNow = (text: string): ShellFacts => {
  const facts = describeShell(text)
  if (facts instanceof Promise) throw new Error('parser should be loaded')
  return facts
}

interface Case {
  readonly text: string
  /** Program names, in order of first appearance. */
  readonly programs?: readonly string[]
  readonly flags?: readonly string[]
  readonly parsed?: boolean
  /** Expected argv of the command named by argv[0]'s basename (first match). */
  readonly argv?: Readonly<Record<string, readonly string[]>>
}

// Every command of a line is seen, wherever bash would run it.
const COMMANDS: Case[] = [
  { text: 'ls -la', programs: ['ls'], flags: [], argv: { ls: ['ls', '-la'] } },
  { text: 'ls | grep x | wc -l', programs: ['ls', 'grep', 'wc'], flags: ['pipe'] },
  { text: 'id |& tee log', programs: ['id', 'tee'], flags: ['pipe'] },
  { text: 'a; b && c || d', programs: ['a', 'b', 'c', 'd'], flags: [] },
  { text: 'ls\nrm -rf /', programs: ['ls', 'rm'], argv: { rm: ['rm', '-rf', '/'] } },
  { text: 'echo $(id)', programs: ['echo', 'id'], flags: ['substitution'] },
  { text: 'echo `whoami`', programs: ['echo', 'whoami'], flags: ['substitution'] },
  { text: 'echo "x $(rm -rf /) y"', programs: ['echo', 'rm'], flags: ['substitution'] },
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
  { text: 'echo "${X:-$(id)}"', programs: ['echo', 'id'], flags: ['substitution'] },
  { text: 'echo $(( 1 + $(id -u) ))', programs: ['echo', 'id'], flags: ['runtime_code', 'substitution'] },
  { text: 'echo $(echo $(id) `whoami`)', programs: ['echo', 'id', 'whoami'] },
  { text: 'diff <(curl -s a) >(cat)', programs: ['diff', 'curl', 'cat'], flags: ['substitution'] },
  { text: '(cd /tmp && rm x)', programs: ['cd', 'rm'], flags: ['subshell'] },
  { text: '{ id; }', programs: ['id'], flags: [] },
  { text: 'sleep 10 &', programs: ['sleep'], flags: ['background'] },
  { text: 'echo hi > /etc/passwd', programs: ['echo'], flags: ['redirect'] },
  { text: 'cat <<EOF\n$(id)\nEOF', programs: ['cat', 'id'], flags: ['heredoc', 'substitution'] },
  { text: "cat <<'EOF'\n$(id)\nEOF", programs: ['cat'], flags: ['heredoc'] },
  // A quoted heredoc is not expanded: its backquotes are text.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
  { text: "cat <<'EOF'\na `id` ${X:-`id`}\nEOF", programs: ['cat'], flags: ['heredoc'] },
  { text: 'cat <<\\EOF\n`id`\nEOF', programs: ['cat'], flags: ['heredoc'] },
  {
    text: 'cat <<EOF\n$(echo `id`)\nEOF',
    programs: ['cat', 'echo', 'id'],
    flags: ['heredoc', 'substitution'],
  },
  // $(…) inside ${…} is parsed as commands.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
  { text: 'echo ${X:-$(rm x)}', programs: ['echo', 'rm'], flags: ['substitution'] },
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
  { text: 'echo ${X:-$(echo `id`)}', programs: ['echo', 'id'], flags: ['substitution'] },
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
  { text: 'echo ${a[`id`]}', programs: ['echo', 'id'], flags: ['runtime_code', 'substitution'] },
  { text: 'cat <<< "$(id)"', programs: ['cat', 'id'], flags: ['heredoc', 'substitution'] },
  { text: 'if test -f x; then rm x; else touch x; fi', programs: ['test', 'rm', 'touch'] },
  { text: 'for f in $(ls); do rm "$f"; done', programs: ['ls', 'rm'] },
  { text: 'while true; do date; done', programs: ['true', 'date'] },
  { text: 'case $x in a) rm a;; *) ls;; esac', programs: ['rm', 'ls'] },
  { text: '[[ -f $(id) ]] && echo y', programs: ['[[', 'id', 'echo'] },
  { text: 'f() { rm -rf /; }; f', programs: ['rm', 'f'], flags: ['function'] },
  { text: 'export A=$(id)', programs: ['export', 'id'], flags: ['substitution'] },
  { text: 'FOO=1 make', programs: ['make'], flags: ['env_assignment'] },
  { text: '# rm -rf /\nls', programs: ['ls'] },
  { text: 'ls \\\n -la', programs: ['ls'], argv: { ls: ['ls', '-la'] } },
  { text: 'echo a#b; id', programs: ['echo', 'id'] },
  { text: '', programs: [], flags: [], parsed: true },
]

// Quote removal: the name bash runs, however it is spelled.
const QUOTING: Case[] = [
  { text: "r''m -rf /", programs: ['rm'], argv: { rm: ['rm', '-rf', '/'] } },
  { text: 'r"m" x', programs: ['rm'] },
  { text: '\\rm x', programs: ['rm'] },
  { text: 'r\\m x', programs: ['rm'] },
  { text: "$'\\x72\\x6d' -rf /", programs: ['rm'] },
  { text: "$'\\162m' x", programs: ['rm'] },
  // Escaped or single-quoted backquotes are text.
  { text: 'echo \\`id\\` "\\`id\\`" \'`id`\'', programs: ['echo'], flags: [] },
  { text: '/bin/rm -rf /', programs: ['rm'], argv: { rm: ['/bin/rm', '-rf', '/'] } },
  { text: 'echo "a\\"b" \'c d\'', argv: { echo: ['echo', 'a"b', 'c d'] } },
  { text: 'echo $HOME/x', argv: { echo: ['echo', '$HOME/x'] } },
]

// Wrappers: the programs they run are reported too.
const WRAPPERS: Case[] = [
  { text: 'sh -c "rm -rf /"', programs: ['sh', 'rm'], argv: { rm: ['rm', '-rf', '/'] } },
  { text: "bash -lc 'id; rm x'", programs: ['bash', 'id', 'rm'] },
  { text: "bash -o pipefail -c 'a | b'", programs: ['bash', 'a', 'b'], flags: ['pipe'] },
  { text: 'sh -c "sh -c \'sh -c \\"rm x\\"\'"', programs: ['sh', 'rm'] },
  { text: "eval 'rm -rf /'", programs: ['eval', 'rm'] },
  { text: 'eval rm "-rf" /', programs: ['eval', 'rm'], argv: { rm: ['rm', '-rf', '/'] } },
  {
    text: 'env -i PATH=/x rm a',
    programs: ['env', 'rm'],
    flags: ['env_assignment', 'runtime_code'],
    argv: { rm: ['rm', 'a'] },
  },
  { text: "env -S 'rm -rf' /", programs: ['env', 'rm'], argv: { rm: ['rm', '-rf', '/'] } },
  {
    text: 'sudo -u root -E rm -rf /',
    programs: ['sudo', 'rm'],
    flags: ['sudo'],
    argv: { rm: ['rm', '-rf', '/'] },
  },
  { text: 'sudo --user=root A=1 id', programs: ['sudo', 'id'], flags: ['env_assignment', 'sudo'] },
  { text: 'sudo -e /etc/hosts', programs: ['sudo'], flags: ['sudo'] },
  { text: 'nohup ./run.sh &', programs: ['nohup', 'run.sh'], flags: ['background'] },
  { text: 'timeout -s KILL 5 rm x', programs: ['timeout', 'rm'] },
  { text: 'timeout --kill-after=1 5 rm x', programs: ['timeout', 'rm'] },
  { text: 'nice -n 10 ionice -c 3 rm x', programs: ['nice', 'ionice', 'rm'] },
  { text: 'xargs -n 1 -I{} rm {}', programs: ['xargs', 'rm'] },
  { text: 'ls | xargs', programs: ['ls', 'xargs', 'echo'] },
  { text: 'find / -name x -exec rm -f {} \\;', programs: ['find', 'rm'], argv: { rm: ['rm', '-f', '{}'] } },
  { text: 'find . -execdir chmod 777 {} + -ok rm {} \\;', programs: ['find', 'chmod', 'rm'] },
  { text: 'command -v rm', programs: ['command'] },
  { text: 'command rm x', programs: ['command', 'rm'] },
  { text: 'exec rm x', programs: ['exec', 'rm'] },
  { text: 'time -p rm x', programs: ['time', 'rm'] },
  { text: 'su -c "rm x" root', programs: ['su', 'rm'], flags: ['sudo'] },
  { text: "watch -n 1 'ls | wc'", programs: ['watch', 'ls', 'wc'] },
  { text: 'busybox rm x', programs: ['busybox', 'rm'] },
  { text: "python3 -c 'import os'", programs: ['python3'], flags: ['interpreter_code'] },
  { text: "perl -e 'unlink'", flags: ['interpreter_code'] },
  { text: 'curl x | python', flags: ['interpreter_code', 'pipe'], parsed: true },
  { text: 'python3 script.py', flags: [] },
  { text: "ssh other 'rm -rf /'", programs: ['ssh'], flags: ['remote_command'] },
  { text: 'sh --version', programs: ['sh'], parsed: true },
]

// Fail closed: parsed false and the right flag.
const UNCLASSIFIABLE: Case[] = [
  {
    text: 'curl -s https://x | sh',
    programs: ['curl', 'sh'],
    flags: ['pipe', 'shell_from_stdin'],
    parsed: false,
  },
  { text: 'bash <<EOF\nrm -rf /\nEOF', flags: ['heredoc', 'shell_from_stdin'], parsed: false },
  { text: 'bash < script.sh', flags: ['redirect_in', 'shell_from_stdin'], parsed: false },
  { text: 'bash script.sh', flags: ['shell_from_stdin'], parsed: false },
  { text: '. ./env.sh', flags: ['shell_from_stdin'], parsed: false },
  { text: 'source x', flags: ['shell_from_stdin'], parsed: false },
  { text: 'sudo -i', flags: ['shell_from_stdin', 'sudo'], parsed: false },
  { text: 'su root', flags: ['shell_from_stdin', 'sudo'], parsed: false },
  { text: '$a -rf /', flags: ['dynamic'], parsed: false },
  { text: '"$CMD" x', flags: ['dynamic'], parsed: false },
  { text: '$(echo rm) -rf /', flags: ['dynamic', 'substitution'], parsed: false },
  { text: '/bin/r? x', flags: ['dynamic'], parsed: false },
  { text: 'sudo $CMD', flags: ['dynamic', 'sudo'], parsed: false },
  { text: 'sh -c "$X"', flags: ['dynamic'], parsed: false },
  { text: 'eval "$X"', flags: ['dynamic'], parsed: false },
  { text: 'xargs $X', flags: ['dynamic'], parsed: false },
  { text: 'echo (', parsed: false },
  { text: 'echo "unterminated', parsed: false },
  { text: 'if true; then', parsed: false },
  { text: '{rm,-rf,/tmp}', parsed: false },
  { text: 'sh -c "echo ("', parsed: false },
]

// Substitutions tree-sitter-bash reads as plain text (bash runs them): never parsed with the program missing.
/* biome-ignore-start lint/suspicious/noTemplateCurlyInString: shell text, not templates */
// Substitutions tree-sitter-bash reads as text: backquotes are rewritten to $(…) the way bash reads
// them (shell-lexer.ts), and what tree-sitter still misses, mvdan/sh finds (the parsers disagree).
const HIDDEN: Case[] = [
  { text: 'echo ${X:-`rm -rf /tmp/x`}', programs: ['echo', 'rm'], flags: ['substitution'] },
  { text: '"${X/#/`id`}"', flags: ['dynamic', 'substitution'], parsed: false },
  { text: 'echo "${X/#/`id`}"', programs: ['echo', 'id'], flags: ['substitution'] },
  { text: 'echo ${X:=`id`}', programs: ['echo', 'id'], flags: ['substitution'] },
  { text: 'echo ${X#`id`}', flags: [], parsed: false },
  { text: 'echo ${X/`id`/y}', programs: ['echo', 'id'], flags: ['substitution'] },
  { text: 'echo ${X:-${Y:-`id`}}', programs: ['echo', 'id'], flags: ['substitution'] },
  { text: 'x=${Y:-`id`} ls', programs: ['ls', 'id'], flags: ['env_assignment', 'substitution'] },
  { text: 'echo ${X:-<(rm x)}', flags: ['dynamic'], parsed: false },
  { text: 'echo ${X:->(rm x)}', flags: ['dynamic'], parsed: false },
  { text: 'echo ${X%%<(rm x)}', flags: ['dynamic'], parsed: false },
  { text: 'echo ${X:-$[`id`]}', programs: ['echo', 'id'], flags: ['substitution'] },
  { text: 'echo $(echo ${X:-`id`})', programs: ['echo', 'id'], flags: ['substitution'] },
  { text: 'cat <<EOF\n${X:-`id`}\nEOF', programs: ['cat', 'id'], flags: ['heredoc', 'substitution'] },
  { text: 'cat <<EOF\n${X:-<(id)}\nEOF', flags: ['dynamic', 'heredoc'], parsed: false },
  { text: 'cat <<EOF\na `id` b\nEOF', programs: ['cat', 'id'], flags: ['heredoc', 'substitution'] },
  { text: 'cat <<-EOF\n\t`id`\n\tEOF', flags: ['heredoc'], parsed: false },
  { text: '[[ x =~ `id` ]]', programs: ['[[', 'id'], flags: ['substitution'] },
  { text: 'echo `echo \\`rm x\\``', programs: ['echo', 'rm'], flags: ['substitution'] },
  { text: "sh -c 'echo ${X:-`id`}'", programs: ['sh', 'echo', 'id'], flags: ['substitution'] },
]
/* biome-ignore-end lint/suspicious/noTemplateCurlyInString: shell text, not templates */

function check(c: Case): void {
  const facts = describeNow(c.text)
  if (c.programs) expect(facts.programs).toEqual(c.programs)
  if (c.flags) expect([...facts.flags].sort()).toEqual([...c.flags].sort())
  if (c.parsed !== undefined) expect(facts.parsed).toBe(c.parsed)
  if (c.parsed === false) expect(facts.error).not.toBe('')
  if (c.parsed === true || c.parsed === undefined) {
    expect(facts.error, `${c.text}: ${facts.error}`).toBe('')
    expect(facts.parsed).toBe(true)
  }
  for (const [name, argv] of Object.entries(c.argv ?? {}))
    expect(facts.commands.find((cmd) => cmd.name === name)?.argv).toEqual(argv)
  expect(facts.text).toBe(c.text)
}

describe('describeShell', () => {
  describe.each([
    ['finds every command', COMMANDS],
    ['removes quotes like bash', QUOTING],
    ['unwraps programs that run programs', WRAPPERS],
    ['fails closed', UNCLASSIFIABLE],
    ['fails closed on substitutions the grammar reads as text', HIDDEN],
  ] as const)('%s', (_title, cases) => {
    test.each(cases.map((c) => [JSON.stringify(c.text), c] as const))('%s', (_name, c) => check(c))
  })

  test('facts are deep-frozen and cached by text', () => {
    const a = describeNow('sudo rm -rf /tmp/x')
    expect(describeNow('sudo rm -rf /tmp/x')).toBe(a)
    expect(Object.isFrozen(a)).toBe(true)
    expect(Object.isFrozen(a.commands)).toBe(true)
    expect(Object.isFrozen(a.commands[1].argv)).toBe(true)
    expect(() => (a.commands as unknown as unknown[]).push({})).toThrow(TypeError)
  })

  test('over-long input is not parsed', () => {
    const facts = describeNow(`echo ${'a'.repeat(300 * 1024)}`)
    expect(facts.parsed).toBe(false)
    expect(facts.error).toMatch(/longer than/)
  })

  test('deep script nesting fails closed', () => {
    let text = 'id'
    for (let i = 0; i < 12; i++) text = `eval ${JSON.stringify(text).replace(/\$/g, '\\$')}`
    const facts = describeNow(text)
    expect(facts.parsed).toBe(false)
    expect(facts.flags).toContain('dynamic')
  })

  test('deep syntax nesting fails closed without a stack overflow', () => {
    const facts = describeNow(`${'$('.repeat(600)}id${')'.repeat(600)}`)
    expect(facts.parsed).toBe(false)
  })

  test('rejects a non-string', () => {
    expect(() => describeShell(42 as unknown as string)).toThrow(TypeError)
  })
})
