// biome-ignore-all lint/suspicious/noTemplateCurlyInString: shell text with ${…}, not templates
// describeShell against the real bash (issue 15): every program bash runs must be in the facts, or the
// facts refused (parsed: false, or `runtime_code`, which the example policies deny).
import { describeShell, loadShellParser } from '@warden/drivers/ssh'
import type { ShellFacts } from '@warden/policy'
import fc from 'fast-check'
import { beforeAll, describe, expect, test } from 'vitest'
import { disagreement, refused, runBash } from './bash-oracle.js'

beforeAll(() => loadShellParser())

const describeNow = (text: string, interactive = false): ShellFacts => {
  const facts = describeShell(text, { interactive })
  if (facts instanceof Promise) throw new Error('parser should be loaded')
  return facts
}

/** Runs `text` in bash and fails when it ran a program the (unrefused) facts omit. */
function agree(text: string): ShellFacts {
  const facts = describeNow(text)
  if (refused(facts)) return facts
  expect(disagreement([facts], runBash(text)), JSON.stringify(text)).toBe('')
  return facts
}

// Every shell input of issue 15, as written there.
const BYPASSES: readonly string[] = [
  'ls x\r#;rm victim',
  'ls x\v#;rm victim',
  'ls x\f#;rm victim',
  'ls x]\n\\rm victim',
  'ls x]\r\nrm victim',
  'ls\n\\\nrm victim',
  'ls x\\\n#;rm victim',
  'ps\\\nql -c x',
  'sud\\\no rm victim',
  'cat <<<\r\nrm victim',
  'cat <<< x\\\nrm victim',
  'BASH_CMDS[ls]=/bin/rm; ls victim',
  "x='a[$(rm victim)]'; echo $((x))",
  "x='a[$(rm victim)]'; echo $(($x))",
  "x='a[$(rm victim)]'; echo ${!x}",
  "a=(1); x='b[$(rm victim)]'; echo ${a[x]}",
  "x='b[$(rm victim)]'; echo ${PWD:x}",
  "x='b[$(rm victim)]'; [[ $x -eq 0 ]]",
  "[[ -v 'a[$(rm victim)]' ]]",
  "x='$(rm victim)'; echo ${x@P}",
  "x='a[$(rm victim)]'; let y=x",
  "x='a[$(rm victim)]'; (( x ))",
  "x='a[$(rm victim)]'; for ((i=x; i<0; i++)); do :; done",
  'echo `id -u` `rm -rf victim`',
  'echo `date` `hostname`',
  'echo `echo \\`rm victim\\``',
  'PATH=.:$PATH; ls',
  'LD_PRELOAD=/tmp/x.so ls',
  'env PATH=/tmp ls',
  'a\x7fb; ls',
  "echo 'a\rb' \"c\x01d\" $'e\rf'",
]

describe('describeShell agrees with bash', () => {
  test.each(BYPASSES)('%j', (text) => {
    agree(text)
  })

  test('a control character outside quotes is refused, inside quotes it is data', () => {
    expect(describeNow('ls x\r#;rm victim').parsed).toBe(false)
    expect(describeNow('ls x\r#;rm victim').error).toMatch(/control character \(U\+000D\)/)
    expect(describeNow("echo 'a\rb' \"c\x01d\" $'e\rf'").parsed).toBe(true)
    expect(describeNow('cat <<E\na\rb\nE').parsed).toBe(false)
  })

  test('line joins are read as bash reads them', () => {
    expect(agree('ps\\\nql -c x').programs).toEqual(['psql'])
    expect(agree('sud\\\no ls').flags).toContain('sudo')
    expect(agree('ls x\\\n#;id').programs).toEqual(['ls', 'id'])
    expect(agree('ls\n\\\nrm victim').programs).toEqual(['ls', 'rm'])
  })

  test('adjacent and nested backquotes are parsed as the commands they are', () => {
    expect(agree('echo `id -u` `rm -rf victim`').programs).toEqual(['echo', 'id', 'rm'])
    expect(agree('echo `echo \\`rm victim\\``').programs).toEqual(['echo', 'rm'])
  })

  test('constructs that evaluate run-time values raise runtime_code', () => {
    for (const text of BYPASSES.filter((t) =>
      /BASH_CMDS|\$\(\(x|\$\{!|\$\{a\[x|PWD:x|-eq|-v|@P|let|\(\( x|for \(\(|PATH|LD_/.test(t),
    ))
      expect(describeNow(text).flags, JSON.stringify(text)).toContain('runtime_code')
    expect(describeNow('echo $((1 + 2)) ${a[0]} ${PWD:1}').flags).not.toContain('runtime_code')
  })

  test('[[ … ]] and (( … )) are reported as programs, so programs.all(…) is not vacuous', () => {
    expect(describeNow('[[ -f x ]]').programs).toEqual(['[['])
    expect(describeNow('(( 1 + 2 ))').programs).toEqual(['(('])
  })

  test('the two parsers must agree: a command only mvdan/sh finds fails closed', () => {
    // tree-sitter-bash reads no command in `${X#$(…)}`; mvdan/sh does.
    const facts = agree('echo ${X#`rm victim`}')
    expect(facts.parsed).toBe(false)
    expect(facts.error).toMatch(/parsers disagree: mvdan\/sh finds the command "rm"/)
  })
})

describe('redirections are told apart', () => {
  test.each([
    ['journalctl -u x 2>&1 | grep y', ['fd_dup', 'pipe']],
    ['ls 2>/dev/null', ['devnull']],
    ['ls >/dev/null 2>&1', ['devnull', 'fd_dup']],
    ['ls 3<&- >&2', ['fd_dup']],
    ['grep x < /etc/hosts', ['redirect_in']],
    ['echo hi > f', ['redirect']],
    ['echo hi >> f', ['redirect']],
    ['echo hi &> f', ['redirect']],
    ['echo hi >& f', ['redirect']],
    ['echo hi > $f', ['redirect']],
    ['echo hi <> f', ['redirect']],
  ])('%j', (text, flags) => {
    expect([...describeNow(text).flags].sort()).toEqual(flags)
  })
})

describe('interactive lines', () => {
  /** The lines the shell gate lets through (refused ones are cancelled), run in `bash -i`. */
  function session(lines: readonly string[]): readonly ShellFacts[] {
    const facts = lines.map((l) => describeNow(l, true))
    const allowed = lines.filter((_, i) => !refused(facts[i]))
    const kept = facts.filter((f) => !refused(f))
    expect(disagreement(kept, runBash(allowed, true)), JSON.stringify(lines)).toBe('')
    return facts
  }

  test('history expansion is refused', () => {
    const facts = session(["echo '$(rm victim)'", "echo !!:s/'//:s/'//"])
    expect(facts[1].parsed).toBe(false)
    expect(facts[1].error).toMatch(/history expansion/)
    expect(describeNow('^a^b', true).parsed).toBe(false)
    expect(describeNow('find . ! -name x', true).parsed).toBe(true)
    expect(describeNow("echo 'hi!'", true).parsed).toBe(true)
    expect(describeNow('echo !!').parsed).toBe(true) // bash -c does no history expansion
  })

  test('PROMPT_COMMAND and PS1 run code at every prompt: runtime_code', () => {
    const facts = session(["PROMPT_COMMAND='rm victim'", 'ls', "PS1='$(rm victim)'", 'id'])
    expect(facts[0].flags).toContain('runtime_code')
    expect(facts[2].flags).toContain('runtime_code')
  })
})

describe('over-denial: valid bash that is described', () => {
  test.each([
    ['su - postgres -c "psql -l"', ['su', 'psql']],
    ['su USER -c ls', ['su', 'ls']],
    ['su -l admin --command=id', ['su', 'id']],
    ['ls \\', ['ls']],
    ['grep total$. f', ['grep']],
    ['echo $ a$', ['echo']],
    ['cat <<EOF', ['cat']],
    ['cat <<EOF\nbody', ['cat']],
    ['echo `date` `hostname`', ['echo', 'date', 'hostname']],
  ])('%j', (text, programs) => {
    const facts = agree(text)
    expect(facts.error).toBe('')
    expect(facts.programs).toEqual(programs)
  })
})

describe('valid bash tree-sitter-bash cannot parse is refused, not misread', () => {
  test.each(['for f do echo; done', 'cat <<A; cat <<B\na\nA\nb\nB', 'v=`date` > f'])('%j', (text) => {
    expect(agree(text).parsed).toBe(false)
  })
})

// Pieces of command lines that stress the reader: control characters, joins, quotes, heredocs.
const PIECES = [
  'ls',
  'rm victim',
  'id',
  'cat',
  'x',
  ' ',
  ' ',
  ';',
  '\n',
  '|',
  '&&',
  '#',
  '\\\n',
  '\\',
  "'",
  '"',
  '`',
  '$(',
  ')',
  '$',
  '{',
  '}',
  '<<E',
  '\nE\n',
  '<<-E',
  "<<'E'",
  '<<<',
  '\r',
  '\v',
  '\f',
  '\x01',
  '\x7f',
  '\t',
  '!',
  '2>&1',
  '>/dev/null',
  'sud',
  'o',
  'ps',
  'ql',
  '$((',
  '))',
  "$'",
  '\\r',
]

describe('property: agreement with bash or a refusal', () => {
  test('random lines of quotes, joins, control characters and heredocs', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 14 }), (pieces) => {
        agree(pieces.join(''))
      }),
      { numRuns: 300 },
    )
  })
})
