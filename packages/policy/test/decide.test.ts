import { compilePolicy, type RequestInput } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const POLICY = `
rules:
  - name: readers-select
    resources: ["postgres:orders-*"]
    when: '"readers" in principal.groups && !sql.write'
    effect: allow
  - name: destructive-sql
    resources: ["postgres:*", "mysql:*"]
    when: 'sql.types.exists(t, t in ["DROP", "TRUNCATE"]) || sql.unbounded'
    effect: deny
    reason: destructive statements are blocked
  - name: agent-writes
    when: 'principal.type == "agent" && sql.write'
    effect: approve
    approval: { approvers: [dba-oncall], timeout: 15m }
masks:
  - name: customer-pii
    resources: ["postgres:*"]
    when: '!("pii-readers" in principal.groups)'
    columns: ["email", "*.ssn", "customers.phone"]
    strategy: partial
    tags: [pii]
  - name: secrets-anywhere
    detectors: [jwt, aws_access_key]
    strategy: redact
`
const policy = compilePolicy(POLICY, { source: 'orders.yaml' })
const reader = { id: 'svc-reports', type: 'service', groups: ['readers'] } as const
const agent = { id: 'agent-1', type: 'agent', groups: ['readers'] } as const
const orders = { kind: 'postgres', name: 'orders-prod' } as const
const select: RequestInput['sql'] = { text: 'SELECT 1', types: ['SELECT'], parsed: true }

describe('decide', () => {
  it('allows a matching allow rule and collects masks', () => {
    const d = policy.decide({ principal: reader, resource: orders, action: 'sql.query', sql: select })
    expect(d.effect).toBe('allow')
    expect(d.rule).toBe('readers-select')
    expect(d.masks.map((m) => m.name)).toEqual(['customer-pii', 'secrets-anywhere'])
    expect(d.masks[0].tags).toEqual(['pii'])
    expect(d.matched).toEqual([{ rule: 'readers-select', effect: 'allow', shadow: false }])
    expect(d.revision).toMatch(/^sha256:[0-9a-f]{64}$/)
  })

  it('deny beats approve beats allow', () => {
    const d = policy.decide({
      principal: agent,
      resource: orders,
      sql: { write: true, unbounded: true, types: ['DELETE'] },
    })
    expect(d.effect).toBe('deny')
    expect(d.rule).toBe('destructive-sql')
    expect(d.reason).toBe('destructive statements are blocked')
    // a denied command returns nothing: only the detector masks (they scrub its audit record)
    expect(d.masks.map((m) => m.name)).toEqual(['secrets-anywhere'])
    expect(d.masks.every((m) => m.detectors.length > 0)).toBe(true)
    expect(d.matched.map((m) => m.rule)).toEqual(['destructive-sql', 'agent-writes'])
    const a = policy.decide({ principal: agent, resource: orders, sql: { write: true, types: ['UPDATE'] } })
    expect(a.effect).toBe('approve')
    expect(a.approval).toEqual({
      approvers: ['dba-oncall'],
      groups: [{ approvers: ['dba-oncall'], minApprovals: 1 }],
      timeout: 900_000,
    })
  })

  it('approval requirements: minApprovals, and approver groups of which any one suffices', () => {
    const p = compilePolicy(`
rules:
  - name: two-dbas
    when: 'sql.types.exists(t, t == "DROP")'
    effect: approve
    approval: { approvers: [dba-oncall], minApprovals: 2, timeout: 1h }
  - name: dbas-or-cto
    effect: approve
    approval:
      anyOf:
        - { approvers: [dba-oncall, sre], minApprovals: 2 }
        - { approvers: [cto] }
`)
    const drop = p.decide({ principal: agent, resource: orders, sql: { types: ['DROP'] } })
    expect(drop.approval).toEqual({
      approvers: ['dba-oncall'],
      groups: [{ approvers: ['dba-oncall'], minApprovals: 2 }],
      timeout: 3_600_000,
    })
    const other = p.decide({ principal: agent, resource: orders, sql: { types: ['UPDATE'] } })
    expect(other.approval).toEqual({
      approvers: ['dba-oncall', 'sre', 'cto'],
      groups: [
        { approvers: ['dba-oncall', 'sre'], minApprovals: 2 },
        { approvers: ['cto'], minApprovals: 1 },
      ],
      timeout: 900_000,
    })
  })

  it('falls back to the default, which is deny unless set', () => {
    const d = policy.decide({
      principal: { id: 'x', groups: [] },
      resource: { kind: 'ssh', name: 'bastion' },
    })
    expect(d).toMatchObject({ effect: 'deny', rule: 'default', matched: [] })
    expect(compilePolicy('defaults: {effect: allow}').decide({}).effect).toBe('allow')
    expect(compilePolicy('rules: []').decide({}).effect).toBe('deny')
  })

  it('completes an empty request with empty fields', () => {
    const p = compilePolicy(
      `rules: [{name: r, effect: allow, when: '!sql.write && shell.programs.size() == 0 && principal.id == "" && now > session.startedAt'}]`,
    )
    expect(p.decide({}).effect).toBe('allow')
  })
})

describe('runtime errors fail closed', () => {
  const p = compilePolicy(`
rules:
  - name: all
    effect: allow
  - name: eu-only
    when: 'resource.labels.region != "eu"'
    effect: deny
`)
  it('a deny rule that errors denies', () => {
    const d = p.decide({ resource: { kind: 'postgres', name: 'x', labels: {} } })
    expect(d.effect).toBe('deny')
    expect(d.rule).toBe('error:eu-only')
    expect(d.matched.find((m) => m.rule === 'eu-only')?.error).toContain('no_such_key')
    expect(p.decide({ resource: { kind: 'postgres', name: 'x', labels: { region: 'eu' } } }).effect).toBe(
      'allow',
    )
  })
  it('an allow rule that errors does not allow', () => {
    const q = compilePolicy(`rules: [{name: a, effect: allow, when: 'principal.claims.level > 2'}]`)
    expect(q.decide({ principal: { claims: {} } }).effect).toBe('deny')
    expect(q.decide({ principal: { claims: { level: 3 } } }).effect).toBe('allow')
  })
  it('something that is not a request at all is denied, even under defaults: allow', () => {
    const open = compilePolicy('defaults: {effect: allow}')
    for (const bad of [null, undefined, 'x', 5, [], true])
      expect(open.decide(bad as never)).toMatchObject({ effect: 'deny', rule: 'error:request' })
    expect(open.decide({}).effect).toBe('allow')
  })
  it('a malformed request is denied, not thrown', () => {
    const d = p.decide({ principal: { groups: 'admins' as unknown as string[] } })
    expect(d).toMatchObject({ effect: 'deny', rule: 'error:request' })
  })
})
