import { compilePolicy, PolicyError, type WardenErrorCode } from '@warden/policy'
import { describe, expect, it } from 'vitest'

function fail(text: string): PolicyError {
  try {
    compilePolicy(text, { source: 'bad.yaml' })
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError)
    return e as PolicyError
  }
  throw new Error('policy loaded but should not have')
}

const rule = (body: string) => `rules:\n  - name: r\n    effect: allow\n${body}`

// [label, document, code, line, column, text the caret points at]
const CASES: [string, string, WardenErrorCode, number, number, string][] = [
  ['YAML syntax', 'rules: [ {name: a', 'ERR_POLICY_YAML', 1, 18, ''],
  ['duplicate YAML key', 'rules: []\nrules: []', 'ERR_POLICY_YAML', 2, 1, 'rules'],
  ['unknown top-level key', 'rulez: []', 'ERR_POLICY_SCHEMA', 1, 1, 'rulez'],
  ['unknown rule key', rule("    whn: 'true'"), 'ERR_POLICY_SCHEMA', 4, 5, 'whn'],
  ['bad effect', 'rules:\n  - name: r\n    effect: allw', 'ERR_POLICY_SCHEMA', 3, 13, 'allw'],
  ['missing effect', 'rules:\n  - name: r', 'ERR_POLICY_SCHEMA', 2, 5, 'name'],
  [
    'a bad approval timeout on a deny rule (checked though unused)',
    rule('    approval: { approvers: [dba], timeout: 5x }').replace('effect: allow', 'effect: deny'),
    'ERR_POLICY_DURATION',
    4,
    44,
    '5x',
  ],
  [
    'mask without columns or detectors',
    'masks:\n  - name: m\n    strategy: redact',
    'ERR_POLICY_SCHEMA',
    2,
    5,
    'name',
  ],
  [
    'bad mask strategy',
    'masks:\n  - name: m\n    columns: [a]\n    strategy: scramble',
    'ERR_POLICY_SCHEMA',
    4,
    15,
    'scramble',
  ],
  [
    'bad detector',
    'masks:\n  - name: m\n    detectors: [ssn]\n    strategy: redact',
    'ERR_POLICY_SCHEMA',
    3,
    17,
    'ssn',
  ],
  ['CEL syntax', rule("    when: 'principal.id == '"), 'ERR_POLICY_CEL_SYNTAX', 4, 28, ''],
  ['unknown variable', rule('    when: \'princpal.id == "x"\''), 'ERR_POLICY_CEL_TYPE', 4, 12, 'princpal'],
  ['unknown field', rule("    when: 'sql.wrte'"), 'ERR_POLICY_CEL_TYPE', 4, 16, 'wrte'],
  [
    'unknown nested field',
    rule("    when: 'sql.statements.exists(s, s.wher)'"),
    'ERR_POLICY_CEL_TYPE',
    4,
    39,
    'wher',
  ],
  [
    'wrong type',
    rule('    when: \'principal.id + 1 == "x"\''),
    'ERR_POLICY_CEL_TYPE',
    4,
    12,
    'principal.id + 1',
  ],
  [
    'string compared with int',
    rule("    when: 'resource.name > 5'"),
    'ERR_POLICY_CEL_TYPE',
    4,
    12,
    'resource.name > 5',
  ],
  ['non-bool when', rule("    when: 'principal.id'"), 'ERR_POLICY_CEL_TYPE', 4, 12, 'principal.id'],
  [
    'unknown function',
    rule('    when: \'principal.id.startWith("x")\''),
    'ERR_POLICY_CEL_TYPE',
    4,
    12,
    'principal.id.startWith',
  ],
  ['bad regex', rule('    when: \'principal.id.matches("(?P<x")\''), 'ERR_POLICY_REGEX', 4, 33, '"(?P<x"'],
  [
    'backreference is not RE2',
    rule('    when: \'principal.id.matches("(a)\\\\1")\''),
    'ERR_POLICY_REGEX',
    4,
    33,
    '"(a)',
  ],
  ['bad resource kind', rule('    resources: ["pg:orders"]'), 'ERR_POLICY_GLOB', 4, 17, '"pg:orders"'],
  ['resource glob without kind', rule('    resources: ["orders"]'), 'ERR_POLICY_GLOB', 4, 17, '"orders"'],
  [
    'resource glob with bad characters',
    rule('    resources: ["postgres:a b"]'),
    'ERR_POLICY_GLOB',
    4,
    17,
    '"postgres:a b"',
  ],
  [
    'bad column glob',
    'masks:\n  - name: m\n    columns: ["a..b"]\n    strategy: redact',
    'ERR_POLICY_GLOB',
    3,
    15,
    '"a..b"',
  ],
  [
    'bad duration',
    'rules:\n  - name: r\n    effect: approve\n    approval: {timeout: 15x}',
    'ERR_POLICY_DURATION',
    4,
    25,
    '15x',
  ],
  [
    'minApprovals below 1',
    'rules:\n  - name: r\n    effect: approve\n    approval: {approvers: [dba], minApprovals: 0}',
    'ERR_POLICY_SCHEMA',
    4,
    48,
    '0',
  ],
  [
    'anyOf together with approvers',
    'rules:\n  - name: r\n    effect: approve\n    approval: {approvers: [dba], anyOf: [{approvers: [cto]}]}',
    'ERR_POLICY_SCHEMA',
    4,
    15,
    '{approvers: [dba], anyOf: [{approvers: [cto]}]}',
  ],
  [
    'zero duration',
    'rules:\n  - name: r\n    effect: approve\n    approval: {timeout: 0m}',
    'ERR_POLICY_DURATION',
    4,
    25,
    '0m',
  ],
  [
    'duplicate rule',
    'rules:\n  - {name: r, effect: allow}\n  - {name: r, effect: deny}',
    'ERR_POLICY_DUPLICATE',
    3,
    12,
    'r',
  ],
  [
    'duplicate mask',
    'masks:\n  - {name: m, columns: [a], strategy: redact}\n  - {name: m, columns: [b], strategy: hash}',
    'ERR_POLICY_DUPLICATE',
    3,
    12,
    'm',
  ],
  ['empty document', '', 'ERR_POLICY_SCHEMA', 1, 1, ''],
  ['not a mapping', '- a\n- b', 'ERR_POLICY_SCHEMA', 1, 1, ''],
]

describe('malformed policies are rejected at load with file, line, column and a caret', () => {
  for (const [label, text, code, line, column, pointsAt] of CASES) {
    it(label, () => {
      const e = fail(text)
      expect(e.code).toBe(code)
      expect(e.file).toBe('bad.yaml')
      expect([e.line, e.column]).toEqual([line, column])
      expect(e.message).toContain(`bad.yaml:${line}:${column}: `)
      const lines = text.split('\n')
      const src = lines[line - 1] ?? ''
      expect(src.slice(column - 1).startsWith(pointsAt)).toBe(true)
      // the snippet shows the source line and a caret under the column
      const [shown, caret] = (e.snippet ?? '').split('\n')
      expect(shown).toBe(`${String(line).padStart(4)} | ${src}`)
      expect(caret.indexOf('^') - '     | '.length).toBe(column - 1)
    })
  }

  it('maps positions inside folded block scalars', () => {
    const e = fail(rule('    when: >-\n      principal.id == "x" &&\n      sql.wrte'))
    expect(e.code).toBe('ERR_POLICY_CEL_TYPE')
    expect([e.line, e.column]).toEqual([6, 11])
  })

  it('maps positions in JSON documents', () => {
    const e = fail('{"rules": [{"name": "r", "effect": "allow", "when": "sql.write && sql.nope"}]}')
    expect(e.code).toBe('ERR_POLICY_CEL_TYPE')
    expect(e.line).toBe(1)
    expect(e.column).toBe(1 + '{"rules": [{"name": "r", "effect": "allow", "when": "sql.write && sql.'.length)
  })

  it('reports in-memory documents by path with an expression snippet', () => {
    try {
      compilePolicy({ rules: [{ name: 'r', effect: 'allow', when: 'sql.wrte' }] })
      expect.unreachable()
    } catch (e) {
      const p = e as PolicyError
      expect(p.code).toBe('ERR_POLICY_CEL_TYPE')
      expect(p.path).toBe('rules[0].when')
      expect(p.snippet).toBe('sql.wrte\n    ^^^^')
    }
  })

  it('rejects conflicting defaults across files', () => {
    expect(() =>
      compilePolicy([
        { source: 'a.yaml', text: 'defaults: {effect: allow}' },
        { source: 'b.yaml', text: 'defaults: {effect: deny}' },
      ]),
    ).toThrow(expect.objectContaining({ code: 'ERR_POLICY_DUPLICATE', file: 'b.yaml' }))
  })

  it('rejects a duplicate rule name across files, naming the first file', () => {
    expect(() =>
      compilePolicy([
        { source: 'a.yaml', text: 'rules: [{name: r, effect: allow}]' },
        { source: 'b.yaml', text: 'rules: [{name: r, effect: deny}]' },
      ]),
    ).toThrow(/b\.yaml:1:16: rule "r" is already defined in a\.yaml/)
  })

  it('rejects a YAML alias bomb and non-string expressions', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]']
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      )
    expect(() => compilePolicy(bomb.join('\n'))).toThrow(expect.objectContaining({ code: 'ERR_POLICY_YAML' }))
    expect(() => compilePolicy('rules: [{name: r, effect: allow, when: 5}]')).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_SCHEMA' }),
    )
    expect(() => compilePolicy({ rules: 'all' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_SCHEMA' }),
    )
    expect(() => compilePolicy(42 as never)).toThrow(expect.objectContaining({ code: 'ERR_POLICY_SCHEMA' }))
  })

  it('rejects oversized expressions', () => {
    const huge = Array.from({ length: 3000 }, (_, i) => `principal.id == "u${i}"`).join(' || ')
    expect(() => compilePolicy({ rules: [{ name: 'r', effect: 'allow', when: huge }] })).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_CEL_SYNTAX' }),
    )
  })
})
