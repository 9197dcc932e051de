import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

// The README's runnable example really runs, and does what its comments say.
it('examples/quickstart.ts runs: masks, denies, verifies its audit chain', () => {
  const script = fileURLToPath(new URL('../../examples/quickstart.ts', import.meta.url))
  const out = execFileSync(process.execPath, ['--conditions=warden-source', '--import', 'tsx', script], {
    encoding: 'utf8',
  })
  expect(out).toContain("email: '***@example.com'")
  expect(out).not.toContain('ann@example.com')
  expect(out).toContain('ERR_WARDEN_DENIED default')
  expect(out).toMatch(/ok: true,\s+count: 5/)
})
