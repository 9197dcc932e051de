// bench/memory: resident set size of a process with every driver loaded and one pool open
// (guarded: Warden + all @warden/drivers subpaths + a guarded pg Pool that ran one query) vs the same
// with the raw client libraries (pg, mysql2, ssh2, @kubernetes/client-node, undici + a raw pg.Pool).
// Each variant runs in fresh processes (bench/memory/child.mjs), median of 3, after GC.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { stats, writeSection } from '../results.js'
import { writeFigures } from '../summary/figures.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const child = fileURLToPath(new URL('./child.mjs', import.meta.url))

// Measure the built packages (what an application loads). If the build fails (someone's work in
// progress), fall back to the sources through tsx and say so: tsx's transform adds memory.
const build = spawnSync('npm', ['run', 'build', '--silent'], {
  cwd: root,
  stdio: 'inherit',
  timeout: 300_000,
})
const fromDist = build.status === 0
const args = fromDist
  ? ['--expose-gc', child]
  : ['--expose-gc', '--conditions=warden-source', '--import', 'tsx', child]

interface Usage {
  rss: number
  heapUsed: number
  external: number
}
const MODES = ['baseline', 'raw', 'guarded', 'guarded+parsers'] as const
const RUNS = 3
const results = new Map<string, Usage>()
for (const mode of MODES) {
  const runs: Usage[] = []
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, [...args, mode], { cwd: root, encoding: 'utf8', timeout: 120_000 })
    if (r.status !== 0) throw new Error(`bench/memory: ${mode} failed (exit ${r.status}):\n${r.stderr}`)
    runs.push(JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as Usage)
  }
  const median = (k: keyof Usage) => stats(runs.map((u) => u[k])).median
  results.set(mode, { rss: median('rss'), heapUsed: median('heapUsed'), external: median('external') })
  console.log(`${mode}: rss ${(median('rss') / 2 ** 20).toFixed(1)} MB`)
}

const mb = (n: number) => (n / 2 ** 20).toFixed(1)
const raw = results.get('raw') as Usage
const row = (label: string, mode: (typeof MODES)[number]) => {
  const u = results.get(mode) as Usage
  const vs = mode === 'baseline' ? '' : `${(u.rss / raw.rss).toFixed(2)}×`
  const delta = mode === 'baseline' || mode === 'raw' ? '' : `+${mb(u.rss - raw.rss)}`
  return `| ${label} | ${mb(u.rss)} | ${delta} | ${vs} | ${mb(u.heapUsed)} | ${mb(u.external)} |`
}
const md = `## memory: resident set size, guarded vs raw

Fresh process per measurement (median of ${RUNS}), after GC, loaded from ${fromDist ? '`dist/` (built packages)' : 'sources through tsx (the build failed; tsx adds memory)'}.
"raw" loads \`pg\`, \`mysql2\`, \`ssh2\`, \`@kubernetes/client-node\` and \`undici\` and opens one \`pg.Pool\` (one query).
"guarded" loads \`@warden/core\`, \`@warden/policy\` and every driver subpath (\`/pg\` \`/mysql\` \`/ssh\` \`/kube\` \`/fetch\`, which load the same libraries),
creates a Warden (policy, static broker, jsonl audit), opens one guarded \`Pool\` and runs one query (loads the PostgreSQL parser, libpg-query WASM).
"+ parsers" also loads the MySQL (sqlparser-rs WASM) and shell (tree-sitter-bash WASM) parsers, which load on first use.

| process | RSS (MB) | vs raw (MB) | × raw | heap used (MB) | external (MB) |
| --- | ---: | ---: | ---: | ---: | ---: |
${row('bare node', 'baseline')}
${row('raw clients + pg.Pool', 'raw')}
${row('guarded: Warden + every driver + guarded Pool', 'guarded')}
${row('guarded + MySQL and shell parsers loaded', 'guarded+parsers')}

Most of the difference is WebAssembly memory (counted in "external"): each parser's linear memory.`
console.log(md)
writeSection('memory', md)
writeFigures('memory', {
  metrics: [
    { key: 'memory.rss.raw', label: 'RSS, raw clients + one pool', value: raw.rss / 2 ** 20, unit: 'MB' },
    {
      key: 'memory.rss.guarded',
      label: 'RSS, every driver + one guarded pool',
      value: (results.get('guarded') as Usage).rss / 2 ** 20,
      unit: 'MB',
    },
    {
      key: 'memory.rss.guarded+parsers',
      label: 'RSS, every driver + one guarded pool + all parsers',
      value: (results.get('guarded+parsers') as Usage).rss / 2 ** 20,
      unit: 'MB',
    },
  ],
})
