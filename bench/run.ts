// `npm run bench`: runs every suite (bench/<suite>/index.ts) in its own process, one after another,
// so suites do not disturb each other's measurements. Each suite rewrites its section of RESULTS.md
// and its figures in bench/out/<suite>.json; then the summary table at the top of RESULTS.md is
// rebuilt from all figures (bench/summary). `npm run bench -- pg fetch` runs only those suites.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { writeSummary } from './summary/summary.js'

const dir = fileURLToPath(new URL('.', import.meta.url))
const only = process.argv.slice(2)
const suites = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(`${dir}/${d.name}/index.ts`))
  .map((d) => d.name)
  .filter((name) => only.length === 0 || only.includes(name))
  .sort()

// Measure what ships: the compiled packages (dist/), built now. The suites themselves are
// TypeScript run through tsx; @warden/* resolve to dist because the warden-source condition is off.
const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' })
if (build.status !== 0) {
  console.error('bench: npm run build failed; nothing measured')
  process.exit(1)
}

const startedAt = new Date()
const failed: string[] = []
for (const suite of suites) {
  console.log(`\n== bench/${suite}`)
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}/${suite}/index.ts`], {
    stdio: 'inherit',
  })
  if (r.status !== 0) {
    failed.push(suite)
    console.error(`bench/${suite} failed (exit ${r.status})`)
  }
}
console.log('\n== summary')
console.log(await writeSummary(startedAt, failed))
process.exit(failed.length ? 1 : 0)
