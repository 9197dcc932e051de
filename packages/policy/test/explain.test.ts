import { compilePolicy, loadPolicy, type PolicyError, unknownRequestFields } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const policy = compilePolicy(
  `
rules:
  - name: destructive-sql
    when: 'sql.types.exists(t, t in ["DROP", "TRUNCATE"]) || sql.unbounded || !sql.parsed'
    effect: deny
  - name: agent-writes
    when: 'principal.type == "agent" && (sql.write || "lock" in sql.effects) && size(sql.tables) > 0'
    effect: approve
  - name: orders-only
    resources: ["postgres:orders-*"]
    effect: allow
  - name: by-claim
    when: 'principal.claims.level > 2'
    effect: allow
`,
  { source: 'explain.yaml' },
)
const request = {
  principal: { id: 'a', type: 'agent' as const },
  resource: { kind: 'postgres' as const, name: 'billing' },
  action: 'sql.query' as const,
  sql: { types: ['SELECT'], write: false, parsed: true, tables: ['t'] },
}

describe('policy.explain', () => {
  it('attributes each non-match to the operand that decided, and reports matches', () => {
    const { decision, rules } = policy.explain(request)
    expect(decision.effect).toBe('deny')
    const [destructive, agent, orders, claim] = rules
    // || : every operand was false
    expect(destructive).toMatchObject({ matched: false, resources: { matched: true } })
    expect(destructive.because.map((b) => [b.text, b.value, b.op, b.index, b.count])).toEqual([
      ['sql.types.exists(t, t in ["DROP", "TRUNCATE"])', false, '||', 1, 3],
      ['sql.unbounded', false, '||', 2, 3],
      ['!sql.parsed', false, '||', 3, 3],
    ])
    // && : the first false operand, then inside it (a parenthesized ||) every operand
    expect(agent.because.map((b) => [b.text, b.value, b.op])).toEqual([
      ['sql.write || "lock" in sql.effects', false, '&&'],
      ['sql.write', false, '||'],
      ['"lock" in sql.effects', false, '||'],
    ])
    expect(orders).toMatchObject({
      matched: false,
      resources: { patterns: ['postgres:orders-*'], matched: false },
      because: [],
    })
    // a runtime error is reported, not hidden as "false"
    expect(claim.matched).toBe(false)
    expect(claim.error).toMatch(/level/)
  })

  it('a negated parenthesized operand is quoted whole (cel-js ranges stop short of its ")")', () => {
    const p = compilePolicy(
      `rules: [{name: r, effect: deny, when: '!("writers" in principal.groups) && sql.write'}]`,
    )
    const [rule] = p.explain(request).rules
    expect(rule.because).toEqual([{ text: 'sql.write', value: false, op: '&&', index: 2, count: 2 }])
    const [negated] = p.explain({
      ...request,
      principal: { ...request.principal, groups: ['writers'] },
    }).rules
    expect(negated.because[0]).toMatchObject({ text: '!("writers" in principal.groups)', value: false })
  })

  it('a rule that matched has no attribution', () => {
    const { rules } = policy.explain({ ...request, sql: { ...request.sql, write: true } })
    expect(rules[1]).toMatchObject({ rule: 'agent-writes', matched: true, because: [] })
  })
})

describe('loading reports every error of a set', () => {
  it('collects schema, CEL and glob errors across rules and files, first error thrown', async () => {
    const err = (await loadPolicy('packages/policy/test/fixtures/many-errors').catch((e) => e)) as PolicyError
    expect(err.code).toBe('ERR_POLICY_SCHEMA')
    const all = err.errors ?? []
    // a file whose structure is wrong still has its expressions checked
    expect(all.map((e) => [e.code, e.path, e.file?.replace(/.*\//, '')])).toEqual([
      ['ERR_POLICY_SCHEMA', 'rules[0]', 'a.yaml'],
      ['ERR_POLICY_SCHEMA', 'rules[1].effect', 'a.yaml'],
      ['ERR_POLICY_CEL_TYPE', 'rules[0].when', 'a.yaml'],
      ['ERR_POLICY_CEL_TYPE', 'rules[0].when', 'b.yaml'],
      ['ERR_POLICY_CEL_SYNTAX', 'rules[1].when', 'b.yaml'],
      ['ERR_POLICY_DURATION', 'rules[2].approval.timeout', 'b.yaml'],
      ['ERR_POLICY_DUPLICATE', 'rules[3].name', 'b.yaml'],
    ])
    expect(all[0].detail).toContain('unknown key "efect"')
    expect(JSON.stringify(err)).toBeTypeOf('string') // errors is not enumerable: no cycle
  })
})

describe('enum literals that cannot match', () => {
  it('are warnings with the allowed values and a position', () => {
    const p = compilePolicy(
      `rules:
  - name: typo
    when: 'principal.type == "agnet" || resource.kind in ["postgres", "postgress"] || action == "sql.query"'
    effect: allow
`,
      { source: 'typo.yaml' },
    )
    expect(p.warnings.map((w) => [w.code, w.line, w.column, w.path])).toEqual([
      ['WARN_POLICY_ENUM_LITERAL', 3, 30, 'rules[0].when'],
      ['WARN_POLICY_ENUM_LITERAL', 3, 71, 'rules[0].when'],
    ])
    expect(p.warnings[0].detail).toBe(
      'principal.type is never "agnet": this comparison cannot match (principal.type is one of service, agent, workload, user)',
    )
  })

  it('valid values and open fields raise none', () => {
    const p = compilePolicy(
      `rules: [{name: ok, effect: allow, when: 'principal.type == "agent" && action == "kube.get" && http.method == "BREW"'}]`,
    )
    expect(p.warnings).toEqual([])
  })
})

describe('unknownRequestFields', () => {
  it('names fields the request model does not have, nested and in lists; map fields take any key', () => {
    expect(
      unknownRequestFields({
        principal: { id: 'a', typ: 'agent', claims: { anything: 1 } },
        resource: { kind: 'postgres', labels: { free: 'x' } },
        sqll: {},
        sql: { statements: [{ type: 'SELECT', tabel: 'x' }] },
        tool: { name: 't', args: { q: 1 } },
      }),
    ).toEqual(['principal.typ', 'sqll', 'sql.statements[0].tabel'])
    expect(unknownRequestFields({ principal: { id: 'a' }, now: '2026-01-01T00:00:00Z' })).toEqual([])
  })
})
