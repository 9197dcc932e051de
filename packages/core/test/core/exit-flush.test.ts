import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { verifyChain } from '@warden/core'
import { expect, it } from 'vitest'

it('queued audit records reach the file at beforeExit, without close()', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-exit-'))
  try {
    const file = join(dir, 'audit.jsonl')
    const script = fileURLToPath(new URL('./fixtures/exit-without-close.ts', import.meta.url))
    execFileSync(process.execPath, ['--conditions=warden-source', '--import', 'tsx', script, file], {
      encoding: 'utf8',
    })
    expect(await verifyChain(file)).toMatchObject({ ok: true, count: 501 })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
