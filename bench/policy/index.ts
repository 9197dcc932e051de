// decide() latency for 1, 20 and 200 rules on realistic requests, against the raw cost of
// evaluating the same CEL rules with @marcbachmann/cel-js on a prebuilt context (the floor).
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Environment } from '@marcbachmann/cel-js'
import { compilePolicy, type Policy, type RequestInput } from '@warden/policy'
import { parse } from 'yaml'
import { stats, writeSection } from '../results.js'
import { writeFigures } from '../summary/figures.js'

const dir = fileURLToPath(new URL('../../examples/policies/', import.meta.url))
const files = ['base.yaml', 'postgres.yaml', 'ssh.yaml', 'kubernetes.yaml', 'agents.yaml']
const texts = files.map((f) => ({ source: f, text: readFileSync(dir + f, 'utf8') }))

type Rule = { name: string; when?: string; effect: string; resources?: string[] }
const exampleRules: Rule[] = texts.flatMap((t) => (parse(t.text).rules ?? []) as Rule[])
const exampleMasks = parse(texts[0].text).masks.concat(parse(texts[1].text).masks)

function synthetic(n: number): Rule[] {
  const kinds = ['postgres', 'mysql', 'ssh', 'kubernetes', 'http', 'tool']
  return Array.from({ length: n }, (_, i) => ({
    name: `team-${i}`,
    resources: [`${kinds[i % kinds.length]}:team-${i}-*`],
    when: `"team-${i}" in principal.groups && (!sql.write || principal.type == "service")`,
    effect: i % 3 === 0 ? 'deny' : 'allow',
  }))
}

// Each policy twice: with the decision cache (the default) and without it (decisionCache: 0).
const both = (doc: Parameters<typeof compilePolicy>[0]): [Policy, Policy] => [
  compilePolicy(doc),
  compilePolicy(doc, { decisionCache: 0 }),
]
const policies: [string, [Policy, Policy], Rule[]][] = [
  [
    '1 rule',
    both({
      rules: [
        {
          name: 'readers-select',
          resources: ['postgres:orders-*'],
          when: '"readers" in principal.groups && !sql.write',
          effect: 'allow',
        },
      ],
    }),
    [],
  ],
  [
    '20 rules',
    both({
      defaults: { effect: 'deny' },
      rules: exampleRules.slice(0, 20) as never,
      masks: exampleMasks,
    }),
    exampleRules.slice(0, 20),
  ],
  [
    '200 rules',
    both({
      defaults: { effect: 'deny' },
      rules: [...exampleRules, ...synthetic(200 - exampleRules.length)] as never,
      masks: exampleMasks,
    }),
    [...exampleRules, ...synthetic(200 - exampleRules.length)],
  ],
]
policies[0][2] = [
  { name: 'readers-select', when: '"readers" in principal.groups && !sql.write', effect: 'allow' },
]

// What core passes: a frozen session principal and frozen, cached describer facts, in a fresh request object.
const reader = Object.freeze({
  id: 'svc-reports',
  type: 'service',
  groups: Object.freeze(['readers']),
  claims: Object.freeze({ level: 3 }),
  issuer: 'https://idp',
})
const agent = Object.freeze({
  id: 'agent-7',
  type: 'agent',
  groups: Object.freeze(['readers']),
  claims: Object.freeze({}),
  issuer: 'https://idp',
})
const selectFacts = Object.freeze({
  text: 'SELECT id, email FROM orders WHERE id = $1',
  statements: Object.freeze([
    Object.freeze({
      type: 'SELECT',
      reads: Object.freeze(['orders']),
      writes: Object.freeze([]),
      where: true,
      functions: Object.freeze([]),
    }),
  ]),
  types: Object.freeze(['SELECT']),
  reads: Object.freeze(['orders']),
  writes: Object.freeze([]),
  tables: Object.freeze(['orders']),
  write: false,
  unbounded: false,
  functions: Object.freeze([]),
  flags: Object.freeze([]),
  parsed: true,
  error: '',
})
const shellFacts = Object.freeze({
  text: 'df -h',
  commands: Object.freeze([Object.freeze({ name: 'df', argv: Object.freeze(['df', '-h']) })]),
  programs: Object.freeze(['df']),
  flags: Object.freeze([]),
  parsed: true,
  error: '',
})
const orders = Object.freeze({
  kind: 'postgres',
  name: 'orders-prod',
  labels: Object.freeze({ env: 'prod' }),
})
const web = Object.freeze({ kind: 'ssh', name: 'app-web-1', labels: Object.freeze({}) })
const ops = Object.freeze({
  id: 'ci-ops',
  type: 'workload',
  groups: Object.freeze(['ops']),
  claims: Object.freeze({}),
  issuer: '',
})
const session = { id: 's1', startedAt: new Date(), operations: 3 }

const requests: [string, () => RequestInput][] = [
  [
    'pg SELECT by reader',
    () => ({ principal: reader, resource: orders, action: 'sql.query', sql: selectFacts, session }),
  ],
  [
    'pg SELECT by agent',
    () => ({ principal: agent, resource: orders, action: 'sql.query', sql: selectFacts, session }),
  ],
  [
    'ssh exec by ops',
    () => ({ principal: ops, resource: web, action: 'ssh.exec', shell: shellFacts, session }),
  ],
]

function measure(fn: () => unknown, iterations: number): { median: number; p99: number } {
  for (let i = 0; i < 20_000; i++) fn()
  const samples = new Array<number>(iterations)
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint()
    fn()
    samples[i] = Number(process.hrtime.bigint() - t0) / 1000
  }
  return stats(samples)
}

// Raw floor: the same rule expressions with cel-js directly, untyped environment, no request
// completion, no resource matching, no precedence, on one prebuilt plain context.
function rawFloor(rules: Rule[]): () => unknown {
  const env = new Environment({ unlistedVariablesAreDyn: true })
  const fns = rules.filter((r) => r.when).map((r) => env.parse(r.when as string))
  const ctx = {
    principal: { ...reader, groups: [...reader.groups], claims: { level: 3n } },
    resource: { ...orders, labels: { env: 'prod' } },
    action: 'sql.query',
    sql: {
      ...selectFacts,
      statements: [...selectFacts.statements],
      types: ['SELECT'],
      reads: ['orders'],
      writes: [],
      tables: ['orders'],
      functions: [],
      flags: [],
    },
    shell: { text: '', commands: [], programs: [], flags: [], parsed: false, error: '' },
    sftp: { op: '', path: '' },
    forward: { host: '', port: 0n },
    kube: {
      verb: '',
      group: '',
      version: '',
      resource: '',
      subresource: '',
      namespace: '',
      name: '',
      command: [],
      container: '',
    },
    http: { method: '', url: '', host: '', path: '', query: {}, headers: {} },
    tool: { name: '', args: {} },
    session: { id: 's1', startedAt: new Date(), operations: 3n },
    flow: { reads: [], tags: [] },
    now: new Date(),
  }
  return () => {
    let n = 0
    for (const f of fns) {
      try {
        if (f(ctx) === true) n++
      } catch {
        n--
      }
    }
    return n
  }
}

const N = 100_000
const rows: string[] = []
let twenty = Number.NaN
let twentyCached = Number.NaN
for (const [label, [cachedPolicy, policy], rules] of policies) {
  const raw = measure(rawFloor(rules), N / 2)
  for (const [reqLabel, make] of requests) {
    const m = measure(() => policy.decide(make()), N)
    const c = measure(() => cachedPolicy.decide(make()), N)
    if (label === '20 rules' && reqLabel === 'pg SELECT by reader') {
      twenty = m.median
      twentyCached = c.median
    }
    rows.push(
      `| ${label} | ${reqLabel} | ${m.median.toFixed(2)} | ${m.p99.toFixed(2)} | ${cachedPolicy.decisionCacheEnabled ? `${c.median.toFixed(2)} | ${c.p99.toFixed(2)}` : 'off | off'} | ${raw.median.toFixed(2)} |`,
    )
    console.log(
      `${label.padEnd(9)} ${reqLabel.padEnd(22)} median ${m.median.toFixed(2)} µs  p99 ${m.p99.toFixed(2)} µs  (raw cel-js, all rules: ${raw.median.toFixed(2)} µs)`,
    )
  }
}

writeSection(
  'policy',
  `## policy: \`decide()\`

Per-call latency of \`policy.decide(request)\` (µs), ${N.toLocaleString('en-US')} calls after 20k warm-up, each timed alone.
The 20- and 200-rule sets are \`examples/policies\` (plus synthetic per-team rules for 200) with their masks;
requests carry frozen principal and describer facts, as core passes them. "raw cel-js" evaluates every rule's
\`when\` with \`@marcbachmann/cel-js\` directly on one prebuilt untyped context (no completion, resource
matching, precedence or masks): the floor for the same CEL work.

The decision cache (issue 20) is off for the first two columns (\`decisionCache: 0\`: every call evaluates the
rules) and on for the next two, where every call after the first is the same request again (a new request
object holding the same frozen parts, as core passes them): a hit (key from part identities, an LRU lookup).
Load average at the start: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')}.

| policy | request | median, no cache | p99, no cache | median, cache hit | p99, cache hit | raw cel-js, all rules (median) |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

Target: ≤ 5 µs median for 20 rules: **${twenty <= 5 ? 'met' : 'missed'}** (${twenty.toFixed(2)} µs without the cache, ${twentyCached.toFixed(2)} µs on a hit).`,
)
writeFigures('policy', {
  metrics: [
    { key: 'decide.20rules.median', label: '`decide()`, 20 rules (median)', value: twenty, unit: 'µs' },
  ],
})
