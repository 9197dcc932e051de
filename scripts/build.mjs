// `npm run build` with a word of what it is doing (the first build takes a while).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'

const packages = ['policy', 'core', 'drivers', 'cli'].map((p) => `packages/${p}`)
const first = !packages.every((p) => existsSync(`${p}/dist`))
process.stderr.write(
  first
    ? 'Building the packages with tsc (first run in this checkout: about 15 s)…\n'
    : 'Checking the build (tsc -b, incremental)…\n',
)
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const r = spawnSync(process.execPath, [tsc, '-b', ...packages], { stdio: 'inherit' })
process.exit(r.status ?? 1)
