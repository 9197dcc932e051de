// Every package says Apache-2.0 and ships the license text itself (npm packs LICENSE with it).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const packages = ['policy', 'core', 'drivers', 'cli']

describe('license', () => {
  it('the repository has the Apache-2.0 text', () => {
    expect(readFileSync(`${root}LICENSE`, 'utf8')).toMatch(/^\s+Apache License\s+Version 2\.0, January 2004/)
  })

  it.each(packages)('@warden/%s declares Apache-2.0 and its tarball carries LICENSE', (name) => {
    const dir = `${root}packages/${name}`
    expect(JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')).license).toBe('Apache-2.0')
    expect(readFileSync(`${dir}/LICENSE`, 'utf8')).toBe(readFileSync(`${root}LICENSE`, 'utf8'))
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: dir,
        encoding: 'utf8',
      }),
    ) as { files: { path: string }[] }[]
    expect(packed[0]?.files.map((f) => f.path)).toContain('LICENSE')
  })
})
