import { compilePolicy, type Request } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const allowWhen = (when: string) => compilePolicy({ rules: [{ name: 'r', effect: 'allow', when }] })
const check = (when: string, request: Parameters<ReturnType<typeof compilePolicy>['decide']>[0]) => {
  const d = allowWhen(when).decide(request)
  return d.effect === 'allow' ? true : (d.matched[0]?.error ?? false)
}

// Every field of the request model, with a typed expression that must compile and be true for FULL.
const FULL: Request = {
  principal: {
    id: 'svc-a',
    type: 'service',
    groups: ['g'],
    claims: { level: 3, ratio: 0.5, org: { id: 7 } },
    issuer: 'https://idp',
  },
  resource: { kind: 'postgres', name: 'orders', labels: { env: 'prod' } },
  action: 'sql.query',
  sql: {
    text: 'DELETE FROM t',
    statements: [{ type: 'DELETE', reads: [], writes: ['t'], where: false, functions: ['now'] }],
    types: ['DELETE'],
    reads: [],
    writes: ['t'],
    tables: ['t'],
    write: true,
    unbounded: true,
    functions: ['now'],
    flags: ['multi_statement'],
    effects: ['sequence', 'lock'],
    parsed: true,
    error: '',
  },
  shell: {
    text: 'ls | wc',
    commands: [{ name: 'ls', argv: ['ls'] }],
    programs: ['ls', 'wc'],
    flags: ['pipe'],
    parsed: true,
    error: '',
  },
  sftp: { op: 'read', path: '/var/log/x' },
  forward: { host: 'db.internal', port: 5432 },
  kube: {
    verb: 'get',
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    subresource: 'scale',
    namespace: 'default',
    name: 'web',
    command: ['sh'],
    container: 'app',
    dryRun: true,
    impersonate: { user: 'jane', groups: ['ops'], uid: '42', extras: { scopes: ['view', 'edit'] } },
  },
  http: {
    method: 'GET',
    url: 'https://a.example/x?q=1',
    host: 'a.example',
    path: '/x',
    query: { q: '1' },
    headers: { accept: '*/*' },
    wireMethod: 'POST',
    methodOverride: 'GET',
  },
  tool: { name: 'refund', args: { amount: 40, note: 'x', items: [1, 2] } },
  session: { id: 's1', startedAt: new Date('2026-01-01T00:00:00Z'), operations: 4 },
  flow: { reads: ['postgres:orders/customers'], tags: ['pii'] },
  now: new Date('2026-01-01T00:10:00Z'),
}

const FIELDS: string[] = [
  'principal.id == "svc-a" && principal.type == "service" && principal.groups == ["g"] && principal.issuer == "https://idp"',
  'principal.claims.level + 1 == 4', // integers are ints
  'principal.claims.ratio == 0.5', // non-integers stay doubles
  'principal.claims.org.id == 7',
  'resource.kind == "postgres" && resource.name == "orders" && resource.labels.env == "prod"',
  'action == "sql.query"',
  'sql.text.startsWith("DELETE") && sql.statements[0].type == "DELETE" && !sql.statements[0].where',
  'sql.statements[0].writes == ["t"] && sql.statements[0].reads.size() == 0 && sql.statements[0].functions == ["now"]',
  'sql.types == ["DELETE"] && sql.reads == [] && sql.writes == ["t"] && sql.tables == ["t"]',
  'sql.write && sql.unbounded && sql.functions == ["now"] && "multi_statement" in sql.flags && sql.parsed && sql.error == ""',
  'shell.text == "ls | wc" && shell.commands[0].name == "ls" && shell.commands[0].argv == ["ls"]',
  'sql.effects == ["sequence", "lock"] && "lock" in sql.effects && !("notify" in sql.effects)',
  'shell.programs == ["ls", "wc"] && "pipe" in shell.flags && shell.parsed && shell.error == ""',
  'sftp.op == "read" && sftp.path.startsWith("/var/log/")',
  'forward.host == "db.internal" && forward.port == 5432 && forward.port + 1 == 5433',
  'kube.verb == "get" && kube.group == "apps" && kube.version == "v1" && kube.resource == "deployments"',
  'kube.subresource == "scale" && kube.namespace == "default" && kube.name == "web" && kube.command == ["sh"] && kube.container == "app"',
  'http.method == "GET" && http.url.startsWith("https://") && http.host == "a.example" && http.path == "/x"',
  'http.query.q == "1" && http.headers.accept == "*/*"',
  'http.wireMethod == "POST" && http.methodOverride == "GET"',
  'kube.dryRun && kube.impersonate.user == "jane" && kube.impersonate.groups == ["ops"] && kube.impersonate.uid == "42"',
  'kube.impersonate.extras.scopes == ["view", "edit"] && "scopes" in kube.impersonate.extras',
  'tool.name == "refund" && tool.args.amount + 1 == 41 && tool.args.note == "x" && tool.args.items[1] == 2',
  'session.id == "s1" && session.operations + 1 == 5 && session.startedAt == timestamp("2026-01-01T00:00:00Z")',
  'now - session.startedAt == duration("10m") && now.getFullYear() == 2026',
  '"postgres:orders/customers" in flow.reads && "pii" in flow.tags',
]

describe('the request model', () => {
  for (const expr of FIELDS) {
    it(`types and evaluates: ${expr}`, () => {
      expect(check(expr, FULL)).toBe(true)
    })
  }

  it('an absent part is present and empty, never an error', () => {
    const empty = [
      'sql.write == false && sql.types == [] && sql.text == "" && !sql.parsed && sql.effects == []',
      'shell.programs == [] && !shell.parsed && sftp.path == "" && forward.port == 0',
      'kube.verb == "" && http.headers == {} && tool.args == {} && flow.tags == []',
      '!kube.dryRun && kube.impersonate.user == "" && kube.impersonate.groups == [] && kube.impersonate.extras == {}',
      'http.wireMethod == "" && http.methodOverride == ""',
      'principal.groups == [] && principal.claims == {} && resource.labels == {} && action == ""',
      'session.operations == 0 && session.startedAt == timestamp("1970-01-01T00:00:00Z")',
    ]
    for (const e of empty) expect(check(e, { resource: { kind: 'ssh', name: 'h' } })).toBe(true)
  })

  it('now defaults to the clock, and the clock is a test seam', () => {
    const p = compilePolicy(
      { rules: [{ name: 'r', effect: 'allow', when: 'now.getFullYear() == 2031' }] },
      {
        clock: () => new Date('2031-05-05T00:00:00Z'),
      },
    )
    expect(p.decide({}).effect).toBe('allow')
  })

  it('every variable rejects unknown fields at load', () => {
    for (const v of [
      'principal',
      'resource',
      'sql',
      'shell',
      'sftp',
      'forward',
      'kube',
      'http',
      'tool',
      'session',
      'flow',
    ]) {
      expect(() => allowWhen(`${v}.nope == "x"`), v).toThrow(
        expect.objectContaining({ code: 'ERR_POLICY_CEL_TYPE' }),
      )
    }
    expect(() => allowWhen('sql.statements.exists(s, s.nope)')).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_CEL_TYPE' }),
    )
    expect(() => allowWhen('shell.commands.exists(c, c.args == [])')).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_CEL_TYPE' }),
    )
  })

  it('field types are enforced at load', () => {
    for (const e of [
      'sql.write == "true"',
      'forward.port == "22"',
      'session.operations + "1" == "x"',
      'now > 5',
      'principal.groups == "g"',
    ]) {
      expect(() => allowWhen(e), e).toThrow(expect.objectContaining({ code: 'ERR_POLICY_CEL_TYPE' }))
    }
  })

  it('wrong JS types in a request deny instead of throwing', () => {
    const p = allowWhen('true')
    const bad: unknown[] = [
      { sql: { write: 'yes' } },
      { principal: { groups: [1] } },
      { forward: { port: 22.5 } },
      { now: 'yesterday' },
      { resource: { labels: { a: 1 } } },
      { session: { startedAt: new Date(Number.NaN) } },
      { sql: { statements: 'SELECT' } },
      { principal: 'svc' },
    ]
    for (const r of bad)
      expect(p.decide(r as never), JSON.stringify(r)).toMatchObject({ effect: 'deny', rule: 'error:request' })
  })

  it('caches frozen inputs without mixing them up', () => {
    const p = allowWhen('"readers" in principal.groups')
    const a = Object.freeze({ id: 'a', groups: Object.freeze(['readers']) })
    const b = Object.freeze({ id: 'b', groups: Object.freeze(['writers']) })
    for (let i = 0; i < 3; i++) {
      expect(p.decide({ principal: a }).effect).toBe('allow')
      expect(p.decide({ principal: b }).effect).toBe('deny')
    }
  })
})
