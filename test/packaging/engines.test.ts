// `engines` says which Node.js lines are supported, and CI tests each of them (issue 21 part 7):
// the whole suite on the machine's Node 20 (.ci/run → npm test) and a subset on Node 22 through
// scripts/test-lts.sh, which takes Node 22 from the npm registry's `node` package when the machine
// lacks it. A tiny run through that script proves the second line really runs on Node 22.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MANIFESTS = [
  'package.json',
  ...['policy', 'core', 'drivers', 'cli'].map((p) => `packages/${p}/package.json`),
]
const enginesOf = (file: string): string =>
  (JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { engines: { node: string } }).engines.node

/** `^a.b.c || >=a.b.c` ranges, the only forms the manifests use (an unknown form fails the test). */
function satisfies(version: string, range: string): boolean {
  const v = version.replace(/^v/, '').split('.').map(Number) as [number, number, number]
  const cmp = (a: readonly number[], b: readonly number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!
  return range.split('||').some((part) => {
    const m = /^\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*$/.exec(part)
    if (!m) throw new Error(`unexpected engines range part: ${part}`)
    const min = [Number(m[2]), Number(m[3]), Number(m[4])]
    return cmp(v, min) >= 0 && (m[1] === '>=' || v[0] === min[0])
  })
}

/** Runs the script without blocking this worker (a synchronous child would starve its RPC). */
function testLts(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'scripts/test-lts.sh',
      args,
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
      (error, stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('engines', () => {
  const range = enginesOf('package.json')

  it('every package says the same', () => {
    expect(MANIFESTS.map(enginesOf)).toEqual(MANIFESTS.map(() => range))
  })

  it('names Node 20 from 20.18 and Node 22 on, not the lines CI does not test', () => {
    for (const ok of ['20.18.0', '20.20.2', '22.0.0', '22.23.3', '24.1.0'])
      expect(satisfies(ok, range), ok).toBe(true)
    for (const no of ['18.20.0', '20.17.0', '21.7.3']) expect(satisfies(no, range), no).toBe(false)
    expect(satisfies(process.version, range)).toBe(true)
  })

  it('.ci/run tests the machine Node with the whole suite and Node 22 with the subset', () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8')
    expect(ci).toMatch(/^npm test$/m)
    expect(ci).toMatch(/^scripts\/test-lts\.sh 22$/m)
  })

  it('scripts/test-lts.sh runs tests on Node 22', { timeout: 180_000 }, async () => {
    const run = await testLts('22', 'test/docs/links.test.ts')
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/test-lts: (using Node v22\.|Node v22\.\S+ is already Node 22)/)
    expect(run.stdout).toMatch(/Tests\s+\d+ passed/)
  })

  it('scripts/test-lts.sh fails when vitest does (here: no such test file)', {
    timeout: 180_000,
  }, async () => {
    const run = await testLts('22', 'test/packaging/no-such.test.ts')
    expect(run.status).not.toBe(0)
  })
})
