// The README's first steps in a fresh clone: `npm ci` and then `npx warden …` works at once (the
// bin builds the packages on first use and says so), as does `npm run build`.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'warden-fresh-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('npx warden runs right after npm ci in a fresh clone (it builds first, saying so)', () => {
  const clone = join(dir, 'warden')
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, clone])
  // The npm cache is warm from the checkout's own install: no network needed.
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone, stdio: 'pipe' })
  expect(existsSync(join(clone, 'packages/cli/dist'))).toBe(false)
  const run = spawnSync('npx', ['--no-install', 'warden', 'policy', 'check', 'examples/policies'], {
    cwd: clone,
    encoding: 'utf8',
  })
  expect(run.stderr).toContain('building the packages')
  expect(run.status, run.stderr).toBe(0)
  expect(run.stdout).toMatch(/ok/)
  expect(existsSync(join(clone, 'packages/cli/dist/bin.js'))).toBe(true)
  // a second run uses the build
  const again = spawnSync('npx', ['--no-install', 'warden', 'policy', 'check', 'examples/policies'], {
    cwd: clone,
    encoding: 'utf8',
  })
  expect(again.status, again.stderr).toBe(0)
  expect(again.stderr).not.toContain('building the packages')
}, 300_000)
