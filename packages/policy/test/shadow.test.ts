import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

describe('shadow mode', () => {
  it('a shadow rule reports its would-be decision in matched without changing the effect', () => {
    const p = compilePolicy(`
rules:
  - name: allow-all
    effect: allow
  - name: new-deny
    when: 'sql.write'
    effect: deny
    shadow: true
`)
    const d = p.decide({ sql: { write: true } })
    expect(d.effect).toBe('allow')
    expect(d.rule).toBe('allow-all')
    expect(d.matched).toEqual([
      { rule: 'allow-all', effect: 'allow', shadow: false },
      { rule: 'new-deny', effect: 'deny', shadow: true },
    ])
    expect(p.decide({ sql: { write: false } }).matched.map((m) => m.rule)).toEqual(['allow-all'])
  })

  it('a whole document can be shadow, including its masks', () => {
    const p = compilePolicy([
      { source: 'live.yaml', text: 'rules: [{name: live, effect: allow}]' },
      {
        source: 'trial.yaml',
        text: 'shadow: true\nrules: [{name: trial-deny, effect: deny}, {name: trial-approve, effect: approve}]\nmasks: [{name: m, columns: [email], strategy: redact}]',
      },
    ])
    const d = p.decide({})
    expect(d.effect).toBe('allow')
    expect(d.masks).toEqual([])
    expect(d.matched.filter((m) => m.shadow).map((m) => m.rule)).toEqual(['trial-deny', 'trial-approve'])
  })

  it('a shadow rule that errors is reported and does not deny', () => {
    const p = compilePolicy({
      rules: [
        { name: 'all', effect: 'allow' },
        { name: 'trial', effect: 'deny', shadow: true, when: 'resource.labels.missing == "x"' },
      ],
    })
    const d = p.decide({})
    expect(d.effect).toBe('allow')
    expect(d.matched[1]).toMatchObject({
      rule: 'trial',
      shadow: true,
      error: expect.stringContaining('no_such_key'),
    })
  })
})
