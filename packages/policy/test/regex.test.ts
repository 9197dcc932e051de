import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const allowWhen = (when: string) => compilePolicy({ rules: [{ name: 'r', effect: 'allow', when }] })
const allowed = (when: string, request: Parameters<ReturnType<typeof compilePolicy>['decide']>[0]) =>
  allowWhen(when).decide(request).effect === 'allow'

describe('matches() runs on RE2 (linear time)', () => {
  it('a nested-quantifier pattern does not stall on a long input', () => {
    // With JS RegExp this input takes longer than the age of the universe; RE2 answers at once.
    const id = `${'a'.repeat(50_000)}!`
    expect(allowed('principal.id.matches("^(a+)+$")', { principal: { id } })).toBe(false)
    expect(allowed('principal.id.matches("^(a+)+$")', { principal: { id: 'aaaa' } })).toBe(true)
  })

  it('inside macros and in the function form too', () => {
    const flags = [`${'a'.repeat(30_000)}!`, 'ok']
    expect(allowed('sql.flags.exists(f, f.matches("^(a|aa)+$"))', { sql: { flags } })).toBe(false)
    expect(allowed('sql.flags.exists(f, f.matches("^o(k)$"))', { sql: { flags } })).toBe(true)
    expect(allowed('matches(principal.id, "^svc-")', { principal: { id: 'svc-a' } })).toBe(true)
    expect(
      allowed('sql.statements.all(s, s.reads.all(t, t.matches("^public\\\\.")))', {
        sql: { statements: [{ type: 'SELECT', reads: ['public.orders'] }] },
      }),
    ).toBe(true)
  })

  it('uses RE2 syntax and semantics (inline flags, partial match)', () => {
    // (?i) is RE2 syntax that JS RegExp rejects: it only works if RE2 evaluates it.
    expect(allowed('sql.text.matches("(?i)^drop\\\\s+table")', { sql: { text: 'DROP TABLE x' } })).toBe(true)
    // CEL matches is a partial (search) match, like RE2 PartialMatch
    expect(
      allowed('resource.name.matches("prod")', { resource: { kind: 'postgres', name: 'orders-prod-eu' } }),
    ).toBe(true)
    expect(
      allowed('resource.name.matches("^prod$")', { resource: { kind: 'postgres', name: 'orders-prod-eu' } }),
    ).toBe(false)
  })

  it('a pattern from the request that is invalid fails the rule closed', () => {
    const p = compilePolicy({
      rules: [
        { name: 'all', effect: 'allow' },
        { name: 'label-pattern', effect: 'deny', when: 'principal.id.matches(resource.labels.deny)' },
      ],
    })
    const d = p.decide({
      principal: { id: 'x' },
      resource: { kind: 'http', name: 'api', labels: { deny: '(' } },
    })
    expect(d.effect).toBe('deny')
    expect(d.rule).toBe('error:label-pattern')
    expect(
      p.decide({ principal: { id: 'x' }, resource: { kind: 'http', name: 'api', labels: { deny: '^y' } } })
        .effect,
    ).toBe('allow')
  })

  it('the built-in JS-RegExp matches cannot be reached under another spelling', () => {
    // only `matches` is rewritten; the internal name is not callable with a typo'd alias either
    expect(() => allowWhen('principal.id.match("x")')).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_CEL_TYPE' }),
    )
  })
})
