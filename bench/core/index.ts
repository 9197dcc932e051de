// bench/core: what the pipeline costs per command with a no-op run, and audit throughput to a file.
//   npm run build && node --import tsx bench/core/index.ts (or `npm run bench -- core`)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type AuditSink,
  type Command,
  createMaskingEngine,
  createWarden,
  type ExecuteContext,
  jsonlSink,
} from '@warden/core'
import { compilePolicy } from '@warden/policy'
import { stats, writeSection } from '../results.js'
import { writeFigures } from '../summary/figures.js'

const dir = mkdtempSync(join(tmpdir(), 'warden-bench-core-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

// A 20-rule policy (like the DESIGN budget for decide) plus one mask rule over 10 columns.
const rules = Array.from(
  { length: 19 },
  (_, i) =>
    `  - name: rule-${i}\n    resources: ["postgres:other-${i}-*"]\n    when: '"group-${i}" in principal.groups && !sql.write'\n    effect: allow`,
).join('\n')
const policyText = (masks: boolean) => `
rules:
${rules}
  - name: readers
    resources: ["postgres:orders-*"]
    when: '"readers" in principal.groups && !sql.write'
    effect: allow
${
  masks
    ? `masks:
  - name: pii
    resources: ["postgres:*"]
    columns: ["email", "phone", "ssn", "card"]
    strategy: redact
`
    : ''
}`

const text =
  'SELECT id, name, email, phone, ssn, card, city, zip, created_at, total FROM customers WHERE id = $1'
// Facts deep-frozen, as the describers return them (describePostgres/describeMysql cache facts by
// text and deep-freeze them), so the audit serializes them once, like in a real driver.
const deepFreeze = <T>(value: T): T => {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
const command: Command = deepFreeze({
  resource: { kind: 'postgres', name: 'orders-prod' },
  action: 'sql.query',
  text,
  sql: {
    text,
    statements: [{ type: 'SELECT', reads: ['customers'], writes: [], where: true, functions: [] }],
    types: ['SELECT'],
    reads: ['customers'],
    writes: [],
    tables: ['customers'],
    write: false,
    unbounded: false,
    functions: [],
    flags: [],
    parsed: true,
    error: '',
  },
}) as Command
const columns = ['id', 'name', 'email', 'phone', 'ssn', 'card', 'city', 'zip', 'created_at', 'total'].map(
  (name) => ({ name, table: 'customers' }),
)
const row = () => ({
  id: 1,
  name: 'Ann',
  email: 'ann@example.com',
  phone: '+1 555 0100',
  ssn: '123-45-6789',
  card: '4111111111111111',
  city: 'Oslo',
  zip: '0150',
  created_at: '2026-01-01',
  total: 12.5,
})

const noop = () => 1
const maskRow = (ctx: ExecuteContext) => {
  ctx.masker?.plan(columns).applyObject(row())
  return 1
}

interface Timing {
  median: number
  p99: number
  /** Median CPU time (user + system) per command: robust to other processes competing for the CPU. */
  cpu: number
}

// Runs `batch` commands per sample; wall-clock and CPU time per command.
async function measure(samplesN: number, batch: number, one: () => Promise<unknown>): Promise<Timing> {
  const wall: number[] = []
  const cpu: number[] = []
  for (let s = 0; s < samplesN; s++) {
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) await one()
    wall.push(Number(process.hrtime.bigint() - t0) / batch / 1000)
    const c = process.cpuUsage(c0)
    cpu.push((c.user + c.system) / batch)
  }
  const w = stats(wall.slice(samplesN / 6))
  return { median: w.median, p99: w.p99, cpu: stats(cpu.slice(samplesN / 6)).median }
}

const discard: AuditSink = {
  write: () => true,
  stored: () => undefined,
  flush: async () => {},
  close: async () => {},
}

async function perCommand(
  masks: boolean,
  fsync: 'none' | 'batch' | 'discard',
  run: (ctx: ExecuteContext) => number,
): Promise<Timing> {
  const warden = createWarden({
    policy: compilePolicy(policyText(masks)),
    audit:
      fsync === 'discard' ? discard : jsonlSink(join(dir, `pipeline-${masks}-${fsync}.jsonl`), { fsync }),
    signals: false,
    masking: createMaskingEngine({ key: 'bench-key-0123456789abcdef' }),
  })
  const session = await warden.session({ principal: { id: 'svc', type: 'service', groups: ['readers'] } })
  const r = await measure(300, 200, () => session.execute(command, run))
  await warden.close()
  return r
}

async function raw(run: (ctx: ExecuteContext) => number): Promise<Timing> {
  const ctx = { masker: null } as unknown as ExecuteContext
  const direct = async (fn: (ctx: ExecuteContext) => number) => fn(ctx)
  return measure(300, 200, () => direct(run))
}

async function auditThroughput(fsync: 'none' | 'batch' | 'always', count: number): Promise<number> {
  const warden = createWarden({
    policy: compilePolicy(policyText(false)),
    audit: jsonlSink(join(dir, `throughput-${fsync}.jsonl`), { fsync }),
  })
  const session = await warden.session({ principal: { id: 'svc', type: 'service', groups: ['readers'] } })
  const t0 = process.hrtime.bigint()
  // Concurrent commands (as a busy service issues them), so batching can work.
  const inflight = new Set<Promise<unknown>>()
  for (let i = 0; i < count; i++) {
    const p = session.execute(command, noop).finally(() => inflight.delete(p))
    inflight.add(p)
    if (inflight.size >= 64) await Promise.race(inflight)
  }
  await Promise.all(inflight)
  await warden.close()
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  return count / seconds
}

const loadavg = (await import('node:os'))
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(' / ')
// warm up the JIT and the masking plan cache
await perCommand(true, 'none', maskRow)

const rawNoop = await raw(noop)
const decidePolicy = compilePolicy(policyText(false))
const principal = Object.freeze({
  id: 'svc',
  type: 'service',
  groups: Object.freeze(['readers']),
  claims: Object.freeze({}),
  issuer: '',
})
const resource = Object.freeze({ kind: 'postgres', name: 'orders-prod', labels: Object.freeze({}) })
const decideOnly = await measure(300, 200, async () =>
  decidePolicy.decide({
    principal,
    resource,
    action: 'sql.query',
    sql: command.sql,
    now: new Date(),
  } as never),
)
// The audit path's parts: sealing (canonical JSON + sha256) a real command record and outcome record.
const { sealRecord } = (await import(
  new URL('../../packages/core/dist/internal/audit-chain.js', import.meta.url).href
)) as { sealRecord: (record: Record<string, unknown>) => { hash: string; line: string } }
const captured: Record<string, unknown>[] = []
{
  const capture: AuditSink = {
    write: (_line, record) => {
      captured.push(record as unknown as Record<string, unknown>)
      return true
    },
    flush: async () => {},
    close: async () => {},
  }
  const w = createWarden({ policy: compilePolicy(policyText(true)), audit: capture, signals: false })
  const s = await w.session({ principal: { id: 'svc', type: 'service', groups: ['readers'] } })
  await s.execute(command, maskRow)
  await w.close()
}
const [intentRecord, outcomeRecord] = captured.filter((r) => r.type === 'command' || r.type === 'outcome')
const sealIntent = await measure(300, 200, async () => sealRecord(intentRecord))
const sealOutcome = await measure(300, 200, async () => sealRecord(outcomeRecord))
const intentBytes = sealRecord(intentRecord).line.length
const outcomeBytes = sealRecord(outcomeRecord).line.length
const chained = await perCommand(false, 'discard', noop)
const fast = await perCommand(false, 'none', noop)
const fastBatch = await perCommand(false, 'batch', noop)
const masked = await perCommand(true, 'none', maskRow)
const maskedBatch = await perCommand(true, 'batch', maskRow)
const tNone = await auditThroughput('none', 50_000)
const tBatch = await auditThroughput('batch', 50_000)
const tAlways = await auditThroughput('always', 2_000)

const us = (x: number) => `${x.toFixed(2)} µs`
const rows: [string, Timing][] = [
  ['raw: `await run()`', rawNoop],
  ['`policy.decide()` alone (20 rules)', decideOnly],
  [`sealing the command record (${intentBytes} B line: canonical JSON + sha256)`, sealIntent],
  [`sealing the outcome record (${outcomeBytes} B line)`, sealOutcome],
  ['pipeline, records sealed + chained, sink discards them (no I/O)', chained],
  ['allow, no masks, jsonl fsync none', fast],
  ['allow, no masks, jsonl fsync batch', fastBatch],
  ['allow + 10-column mask plan, jsonl fsync none', masked],
  ['allow + 10-column mask plan, jsonl fsync batch', maskedBatch],
]
const table = `
## core: pipeline overhead

Per command, sequential, no-op \`run\` (one session; 20-rule policy; hash-chained \`jsonlSink\`; SQL facts deep-frozen as the describers return them).
Each command that runs writes two records (write-ahead: its command record before it runs, its outcome record before it returns); sequential commands get no group commit, so each pays two \`write(2)\`s: the in-place figure at concurrency 8 is in the pg section.
"masks" = the decision carries a mask rule and the run masks one 10-column row through \`context.masker.plan(columns)\`.

| path | median (wall) | p99 (wall) | median CPU |
| --- | ---: | ---: | ---: |
${rows.map(([name, t]) => `| ${name} | ${us(t.median)} | ${us(t.p99)} | ${us(t.cpu)} |`).join('\n')}

Target: ≤ 10 µs median for decide + jsonl audit + 10-column mask plan: ${maskedBatch.median <= 10 ? 'met' : `not met (${us(maskedBatch.median)}; without masks ${us(fastBatch.median)})`}. Wall times include
the batched background file writes (they run on the same thread). Load average at the start of this run: ${loadavg}.

Audit throughput to \`jsonlSink\` (64 commands in flight, full pipeline per record):

| fsync | records/s |
| --- | ---: |
| none | ${Math.round(tNone).toLocaleString('en-US')} |
| batch | ${Math.round(tBatch).toLocaleString('en-US')} |
| always (durable before each command proceeds; one fdatasync per group) | ${Math.round(tAlways).toLocaleString('en-US')} |
`
console.log(table)
writeSection('core', table)
writeFigures('core', {
  metrics: [
    {
      key: 'pipeline.allow.median',
      label: 'pipeline, allow, jsonl fsync batch (median)',
      value: fastBatch.median,
      unit: 'µs',
    },
    {
      key: 'pipeline.masked.median',
      label: 'pipeline, allow + 10-column mask plan, fsync batch (median)',
      value: maskedBatch.median,
      unit: 'µs',
    },
    { key: 'audit.jsonl.none', label: 'audit records/s, jsonl fsync none', value: tNone, unit: 'records/s' },
    {
      key: 'audit.jsonl.batch',
      label: 'audit records/s, jsonl fsync batch',
      value: tBatch,
      unit: 'records/s',
    },
    {
      key: 'audit.jsonl.always',
      label: 'audit records/s, jsonl fsync always',
      value: tAlways,
      unit: 'records/s',
    },
  ],
})
