// The summary at the top of bench/RESULTS.md, built from every suite's bench/out/<suite>.json
// (see figures.ts): drivers raw vs guarded vs a proxy hop, then the core figures, with the machine,
// Node and package versions. Figures older than this run are marked with their date.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { machine } from '../results.js'
import {
  type DriverFigures,
  type Metric,
  type PathFigures,
  readFigures,
  type StoredFigures,
  writeFigures,
} from './figures.js'

const RESULTS = fileURLToPath(new URL('../RESULTS.md', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const START = '<!-- summary:start -->'
const END = '<!-- summary:end -->'

const PACKAGES = [
  '@warden/policy',
  '@warden/core',
  '@warden/drivers',
  'pg',
  'mysql2',
  'ssh2',
  '@kubernetes/client-node',
  'undici',
  '@marcbachmann/cel-js',
  'libpg-query',
  '@guanmingchiu/sqlparser-ts',
  'web-tree-sitter',
  'tree-sitter-bash',
]

function version(name: string): string {
  const file = `${ROOT}node_modules/${name}/package.json`
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
    : 'not installed'
}

/** describeShell cached/uncached, measured here when no suite reported them (there is no ssh suite yet). */
async function measureShellDescribe(): Promise<Metric[]> {
  const { describeShell, loadShellParser } = await import('@warden/drivers/ssh')
  await loadShellParser()
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const uncached: number[] = []
  for (let i = 0; i < 3000; i++) {
    const text = `ls -l /var/log/app-${i} | grep -c error`
    const t0 = process.hrtime.bigint()
    describeShell(text)
    uncached.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  const cached: number[] = []
  for (let i = 0; i < 20_000; i++) {
    const t0 = process.hrtime.bigint()
    describeShell('ls -l /var/log/app-7 | grep -c error')
    cached.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  const metrics: Metric[] = [
    {
      key: 'describe.shell.cached',
      label: 'describeShell, cached',
      value: median(cached.slice(2000)),
      unit: 'µs',
    },
    {
      key: 'describe.shell.uncached',
      label: 'describeShell, uncached short pipeline',
      value: median(uncached.slice(500)),
      unit: 'µs',
    },
  ]
  writeFigures('summary-describe', { metrics })
  return metrics
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}×`

function driverRows(suites: StoredFigures[], stale: (s: StoredFigures) => string): string[] {
  const rows: string[] = []
  for (const s of suites) {
    for (const d of s.drivers ?? []) {
      const guarded: [string, PathFigures | undefined][] = [
        ['guarded', d.guarded],
        ['guarded + masking', d.guardedMasked],
      ]
      for (const [label, g] of guarded) {
        if (g === undefined) continue
        rows.push(row(d, label, g, stale(s)))
      }
      if (d.guarded === undefined && d.guardedMasked === undefined)
        rows.push(row(d, '(not measured)', undefined, stale(s)))
    }
  }
  return rows
}

function row(d: DriverFigures, label: string, g: PathFigures | undefined, note: string): string {
  const { raw, proxy } = d
  const cells = [
    `**${d.driver}**${note}`,
    d.workload ?? '',
    label,
    fmt(raw.medianUs),
    fmt(g?.medianUs),
    g ? fmt(g.medianUs - raw.medianUs) : '–',
    ratio(g?.medianUs, raw.medianUs),
    fmt(proxy?.medianUs),
    proxy ? fmt(proxy.medianUs - raw.medianUs) : 'not measured',
    ratio(g?.opsPerSec, raw.opsPerSec),
    proxy ? ratio(proxy.opsPerSec, raw.opsPerSec) : '–',
  ]
  return `| ${cells.join(' | ')} |`
}

/** The performance budget (docs/architecture.md), each line with the figure measured and whether it is met. */
function budgetRows(suites: StoredFigures[], metrics: readonly Metric[]): string[] {
  const metric = (key: string) => metrics.find((m) => m.key === key)?.value
  const driver = (name: string) => suites.flatMap((s) => s.drivers ?? []).find((d) => d.driver === name)
  const verdict = (ok: boolean | undefined) =>
    ok === undefined ? 'not measured' : ok ? 'met' : '**not met**'
  const rows: string[] = []
  const decide = metric('decide.20rules.median')
  rows.push(
    `| \`decide()\`, 20 rules ≤ 5 µs median | ${fmt(decide, 2)} µs | ${verdict(decide === undefined ? undefined : decide <= 5)} |`,
  )
  const cached = metric('describe.pg.cached')
  rows.push(
    `| SQL describe cached ≤ 1 µs (pg) | ${fmt(cached, 2)} µs | ${verdict(cached === undefined ? undefined : cached <= 1)} |`,
  )
  const uncached = metric('describe.pg.uncached')
  rows.push(
    `| SQL describe uncached ≈ 10 µs (pg, short SELECT) | ${fmt(uncached, 1)} µs | ${verdict(uncached === undefined ? undefined : uncached <= 12)} |`,
  )
  for (const [name, maxAdded] of [
    ['pg', 15],
    ['mysql', 20],
  ] as const) {
    const d = driver(name)
    const ratio =
      d?.guarded?.opsPerSec !== undefined && d.raw.opsPerSec !== undefined
        ? d.guarded.opsPerSec / d.raw.opsPerSec
        : undefined
    const added = d?.guarded !== undefined ? d.guarded.medianUs - d.raw.medianUs : undefined
    rows.push(
      `| guarded ${name} ≥ 0.90× raw throughput (c=8) | ${ratio === undefined ? '–' : `${ratio.toFixed(2)}×`} | ${verdict(ratio === undefined ? undefined : ratio >= 0.9)} |`,
    )
    rows.push(
      `| guarded ${name} ≤ ${maxAdded} µs added median (c=1) | ${fmt(added)} µs | ${verdict(added === undefined ? undefined : added <= maxAdded)} |`,
    )
  }
  return rows
}

export async function writeSummary(runStartedAt: Date, failed: readonly string[]): Promise<string> {
  let suites = readFigures().filter((s) => s.suite !== 'summary-describe')
  const metricsOf = () => suites.flatMap((s) => (s.metrics ?? []).map((m) => ({ ...m, suite: s })))
  if (!metricsOf().some((m) => m.key.startsWith('describe.shell.'))) {
    const shell = await measureShellDescribe()
    suites = [...suites, { suite: 'summary', measuredAt: new Date().toISOString(), metrics: shell }]
  }
  const stale = (s: StoredFigures) =>
    new Date(s.measuredAt) < runStartedAt ? ` (${s.measuredAt.slice(0, 10)}, earlier run)` : ''
  const metrics = metricsOf()
  const pick = (prefix: string) => metrics.filter((m) => m.key.startsWith(prefix))
  const value = (m: Metric) =>
    m.unit === 'µs'
      ? `${fmt(m.value, m.value < 10 ? 2 : 1)} µs`
      : m.unit === 'cells/s'
        ? `${fmt(m.value / 1e6, 2)} M cells/s`
        : m.unit === 'MB'
          ? `${fmt(m.value, 1)} MB`
          : `${fmt(m.value)} ${m.unit}`
  const figureRows = [
    ...pick('decide.'),
    ...pick('pipeline.'),
    ...pick('describe.'),
    ...pick('masking.'),
    ...pick('audit.'),
    ...pick('memory.'),
  ].map((m) => `| ${m.label} | ${value(m)} | ${m.suite.suite}${stale(m.suite)} |`)

  const targetRows = budgetRows(suites, metrics)
  const drivers = driverRows(suites, stale)
  const measuredDrivers = new Set(suites.flatMap((s) => (s.drivers ?? []).map((d) => d.driver)))
  const missing = ['pg', 'mysql', 'ssh', 'kube', 'fetch'].filter((d) => !measuredDrivers.has(d))

  const md = `${START}
## Summary

Written by \`npm run bench\` (\`bench/run.ts\`) from every suite's \`bench/out/<suite>.json\`; the sections below hold each suite's details.
Run started ${runStartedAt.toISOString()} on ${machine()}.
${failed.length ? `\n**Failed in this run:** ${failed.join(', ')} (their figures below, if any, are from an earlier run).\n` : ''}
### Drivers: raw client vs guarded client vs raw client through a proxy hop

Same server, same run, side by side. Latency is the median per operation at concurrency 1 (µs); throughput
ratios are at each suite's concurrency. "proxy hop" is the raw client through a loopback TCP relay (the
cost of any gateway in the data path, before it does any protocol work).

| driver | workload | guarded variant | raw µs | guarded µs | added µs | guarded ÷ raw | proxy µs | proxy added µs | throughput guarded ÷ raw | throughput proxy ÷ raw |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${drivers.join('\n') || '| (no driver suite has reported yet) | | | | | | | | | | |'}
${missing.length ? `\nNo side-by-side figures yet for: ${missing.join(', ')}.\n` : ''}
### Against the performance budget (docs/architecture.md)

| budget | measured | |
| --- | ---: | --- |
${targetRows.join('\n')}

### Warden's own costs

| figure | value | suite |
| --- | ---: | --- |
${figureRows.join('\n')}

Versions: Node ${process.version}; ${PACKAGES.map((p) => `${p} ${version(p)}`).join(', ')}.
${END}`

  const text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n'
  const i = text.indexOf(START)
  const j = text.indexOf(END)
  let rest = i >= 0 && j > i ? text.slice(0, i) + text.slice(j + END.length) : text
  rest = rest.replace(/\n{3,}/g, '\n\n')
  // Insert right after the title and its intro paragraph, before the first suite section.
  const firstSection = rest.indexOf('<!-- bench:')
  const at = firstSection >= 0 ? firstSection : rest.length
  const head = rest.slice(0, at).trimEnd()
  writeFileSync(RESULTS, `${head}\n\n${md}\n\n${rest.slice(at).trimStart()}`)
  return md
}
