#!/usr/bin/env node
// The `warden` command. Runs the built CLI (dist/). In a fresh clone of the repository, where
// `npm ci` links this file before anything is built, it builds the packages first and says so.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const bin = new URL('../dist/bin.js', import.meta.url)
if (!existsSync(bin)) {
  const root = fileURLToPath(new URL('../../../', import.meta.url))
  let tsc
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  } catch {
    process.stderr.write(
      'warden: the CLI is not built (no dist/) and TypeScript is not installed: run `npm ci && npm run build`\n',
    )
    process.exit(2)
  }
  process.stderr.write('warden: first run in this checkout: building the packages (tsc -b, about 15 s)…\n')
  const packages = ['policy', 'core', 'drivers', 'cli'].map((p) => `packages/${p}`)
  const built = spawnSync(process.execPath, [tsc, '-b', ...packages], { cwd: root, stdio: 'inherit' })
  if (built.status !== 0) {
    process.stderr.write('warden: the build failed (see above)\n')
    process.exit(2)
  }
}
await import(bin.href)
