// `npm run bench`: runs every suite (bench/<suite>/index.ts) in its own process, one after another,
// so suites do not disturb each other's measurements. Each suite rewrites its section of RESULTS.md.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('.', import.meta.url))
const only = process.argv.slice(2)
const suites = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(`${dir}/${d.name}/index.ts`))
  .map((d) => d.name)
  .filter((name) => only.length === 0 || only.includes(name))
  .sort()

let failed = 0
for (const suite of suites) {
  console.log(`\n== bench/${suite}`)
  const r = spawnSync(process.execPath, ['--conditions=warden-source', '--import', 'tsx', `${dir}/${suite}/index.ts`], {
    stdio: 'inherit',
  })
  if (r.status !== 0) {
    failed++
    console.error(`bench/${suite} failed (exit ${r.status})`)
  }
}
process.exit(failed ? 1 : 0)
