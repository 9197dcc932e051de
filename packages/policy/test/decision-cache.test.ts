import { compilePolicy, type RequestInput } from '@warden/policy'
import { describe, expect, it } from 'vitest'

// One allow rule that needs every key component to hold one value: changing any single component
// of a request makes it fall through to the default deny. A cache that ignored a component would
// serve the first (allow) decision to the changed request.
const POLICY = `
rules:
  - name: exact
    resources: ["postgres:orders"]
    when: >-
      principal.id == "svc" && principal.type == "service" && principal.issuer == "idp" &&
      "readers" in principal.groups && principal.claims.team == "a" &&
      resource.labels.env == "prod" && action == "sql.query" &&
      sql.text == "SELECT 1" && shell.text == "" && sftp.path == "" && forward.port == 0 &&
      kube.verb == "" && http.host == "" && tool.name == "" &&
      !("pii" in flow.tags) && flow.reads.size() == 0
    effect: allow
`

const deepFreeze = <T>(v: T): T => {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x)
    Object.freeze(v)
  }
  return v
}

const base = () =>
  deepFreeze({
    principal: { id: 'svc', type: 'service', issuer: 'idp', groups: ['readers'], claims: { team: 'a' } },
    resource: { kind: 'postgres', name: 'orders', labels: { env: 'prod' } },
    action: 'sql.query',
    sql: { text: 'SELECT 1', types: ['SELECT'], parsed: true },
    flow: { reads: [], tags: [] },
  }) as RequestInput

// Each case changes exactly one component of the base request (as a new deep-frozen object).
const CHANGES: Record<string, (r: Record<string, unknown>) => void> = {
  'principal.id': (r) => {
    r.principal = { ...(r.principal as object), id: 'other' }
  },
  'principal.type': (r) => {
    r.principal = { ...(r.principal as object), type: 'agent' }
  },
  'principal.issuer': (r) => {
    r.principal = { ...(r.principal as object), issuer: 'other-idp' }
  },
  'principal.groups': (r) => {
    r.principal = { ...(r.principal as object), groups: ['writers'] }
  },
  'principal.claims': (r) => {
    r.principal = { ...(r.principal as object), claims: { team: 'b' } }
  },
  'resource.kind': (r) => {
    r.resource = { ...(r.resource as object), kind: 'mysql' }
  },
  'resource.name': (r) => {
    r.resource = { ...(r.resource as object), name: 'orders-2' }
  },
  'resource.labels': (r) => {
    r.resource = { ...(r.resource as object), labels: { env: 'dev' } }
  },
  action: (r) => {
    r.action = 'ssh.exec'
  },
  sql: (r) => {
    r.sql = { text: 'SELECT 2', types: ['SELECT'], parsed: true }
  },
  shell: (r) => {
    r.shell = { text: 'ls', parsed: true }
  },
  sftp: (r) => {
    r.sftp = { op: 'read', path: '/etc/passwd' }
  },
  forward: (r) => {
    r.forward = { host: 'db', port: 5432 }
  },
  kube: (r) => {
    r.kube = { verb: 'get' }
  },
  http: (r) => {
    r.http = { method: 'GET', host: 'api' }
  },
  tool: (r) => {
    r.tool = { name: 'run', args: {} }
  },
  'flow.tags': (r) => {
    r.flow = { reads: [], tags: ['pii'] }
  },
  'flow.reads': (r) => {
    r.flow = { reads: ['postgres:orders/customers'], tags: [] }
  },
}

describe('decision cache', () => {
  it('serves the same frozen decision for the same request', () => {
    const policy = compilePolicy(POLICY)
    expect(policy.decisionCacheEnabled).toBe(true)
    const request = base()
    const first = policy.decide(request)
    expect(first.effect).toBe('allow')
    expect(policy.decide(request)).toBe(first)
    // A new request object holding the same parts (a new `now`, session facts) is the same request.
    expect(
      policy.decide({
        ...request,
        now: new Date(1),
        session: { id: 's', startedAt: new Date(), operations: 9 },
      }),
    ).toBe(first)
  })

  for (const [component, change] of Object.entries(CHANGES)) {
    it(`changing only ${component} changes the decision served`, () => {
      const policy = compilePolicy(POLICY)
      const request = base()
      expect(policy.decide(request).effect).toBe('allow')
      const changed = { ...request } as Record<string, unknown>
      change(changed)
      deepFreeze(changed)
      const d = policy.decide(changed as RequestInput)
      expect(d.effect).toBe('deny')
      expect(d.rule).toBe('default')
      // And back: the changed request's decision is not served to the original one either.
      expect(policy.decide(request).effect).toBe('allow')
      expect(policy.decide(changed as RequestInput).effect).toBe('deny')
    })
  }

  it('a mutable part is read afresh every time (never keyed by identity)', () => {
    const policy = compilePolicy(POLICY)
    const principal = {
      id: 'svc',
      type: 'service',
      issuer: 'idp',
      groups: ['readers'],
      claims: { team: 'a' },
    }
    const request = { ...base(), principal } as RequestInput
    expect(policy.decide(request).effect).toBe('allow')
    principal.id = 'other'
    expect(policy.decide(request).effect).toBe('deny')
    // frozen at the top, mutable inside: still read afresh
    const groups = ['readers']
    const shallow = Object.freeze({ ...principal, id: 'svc', groups })
    expect(policy.decide({ ...base(), principal: shallow } as RequestInput).effect).toBe('allow')
    groups[0] = 'writers'
    expect(policy.decide({ ...base(), principal: shallow } as RequestInput).effect).toBe('deny')
  })

  it('a getter in a frozen part is not trusted', () => {
    const policy = compilePolicy(POLICY)
    let id = 'svc'
    const principal = Object.freeze({
      get id() {
        return id
      },
      type: 'service',
      issuer: 'idp',
      groups: Object.freeze(['readers']),
      claims: Object.freeze({ team: 'a' }),
    })
    const request = { ...base(), principal } as RequestInput
    expect(policy.decide(request).effect).toBe('allow')
    id = 'other'
    expect(policy.decide(request).effect).toBe('deny')
  })

  it('is off when a rule or a mask reads now or session, so those are always evaluated', () => {
    const byTime = compilePolicy(`
rules:
  - name: before
    when: 'now < timestamp("2030-01-01T00:00:00Z")'
    effect: allow
`)
    expect(byTime.decisionCacheEnabled).toBe(false)
    const r = base()
    expect(byTime.decide({ ...r, now: new Date('2029-01-01T00:00:00Z') }).effect).toBe('allow')
    expect(byTime.decide({ ...r, now: new Date('2031-01-01T00:00:00Z') }).effect).toBe('deny')

    const byOps = compilePolicy(`
rules:
  - name: first-ten
    when: 'sql.statements.exists(s, session.operations < 10)'
    effect: allow
`)
    expect(byOps.decisionCacheEnabled).toBe(false)
    const sql = deepFreeze({ text: 'SELECT 1', statements: [{ type: 'SELECT' }] })
    expect(byOps.decide({ ...r, sql, session: { operations: 1 } }).effect).toBe('allow')
    expect(byOps.decide({ ...r, sql, session: { operations: 11 } }).effect).toBe('deny')

    const maskBySession = compilePolicy(`
rules: [{ name: all, effect: allow }]
masks:
  - name: late
    when: 'has(session.id) && session.id == "s2"'
    columns: [email]
    strategy: redact
`)
    expect(maskBySession.decisionCacheEnabled).toBe(false)
    expect(maskBySession.decide({ ...r, session: { id: 's1' } }).masks).toEqual([])
    expect(maskBySession.decide({ ...r, session: { id: 's2' } }).masks.map((m) => m.name)).toEqual(['late'])
  })

  it('an identifier named like a volatile variable turns it off too (conservative)', () => {
    const p = compilePolicy(`
rules:
  - name: r
    when: 'sql.types.exists(now, now == "SELECT")'
    effect: allow
`)
    expect(p.decisionCacheEnabled).toBe(false)
  })

  it('a policy change decides afresh: caches are per Policy', () => {
    const allow = compilePolicy('rules: [{ name: all, effect: allow }]')
    const deny = compilePolicy('rules: [{ name: none, effect: deny }]')
    const r = base()
    expect(allow.decide(r).effect).toBe('allow')
    expect(deny.decide(r).effect).toBe('deny')
    expect(deny.decide(r).revision).toBe(deny.revision)
    expect(allow.decide(r).revision).toBe(allow.revision)
  })

  it('a malformed session or now still denies as without the cache', () => {
    const policy = compilePolicy(POLICY)
    const r = base()
    expect(policy.decide(r).effect).toBe('allow')
    expect(policy.decide({ ...r, session: { operations: 'x' } } as never).rule).toBe('error:request')
    expect(policy.decide({ ...r, now: 'yesterday' } as never).rule).toBe('error:request')
  })

  it('is bounded, and keeps deciding correctly past its bound', () => {
    const policy = compilePolicy(POLICY, { decisionCache: 2 })
    const texts = ['SELECT 1', 'SELECT 2', 'SELECT 3', 'SELECT 1', 'SELECT 4', 'SELECT 1']
    for (const text of texts) {
      const d = policy.decide({ ...base(), sql: deepFreeze({ text }) } as RequestInput)
      expect(d.effect).toBe(text === 'SELECT 1' ? 'allow' : 'deny')
    }
  })

  it('can be turned off, and rejects a bad size', () => {
    expect(compilePolicy(POLICY, { decisionCache: 0 }).decisionCacheEnabled).toBe(false)
    expect(() => compilePolicy(POLICY, { decisionCache: -1 })).toThrow(/decisionCache/)
    expect(() => compilePolicy(POLICY, { decisionCache: 1.5 })).toThrow(/decisionCache/)
  })
})
