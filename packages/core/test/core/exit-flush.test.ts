import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
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
    expect(await verifyChain(file)).toMatchObject({ ok: true, count: 1001 })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

it('a never-closed Warden with a buffering pino destination still lets the process exit, records intact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-exit-pino-'))
  try {
    const file = join(dir, 'audit.log')
    const script = fileURLToPath(new URL('./fixtures/exit-with-pino.ts', import.meta.url))
    // A hang (beforeExit flushing forever) would hit this guard and fail the test.
    execFileSync(process.execPath, ['--conditions=warden-source', '--import', 'tsx', script, file], {
      timeout: 25_000,
    })
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines).toHaveLength(201)
    expect(lines.map((l) => l.audit.seq)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

it('a process that waited on a Redis approval exits once its Warden is closed (the store is closed with it)', () => {
  const script = fileURLToPath(new URL('./fixtures/close-after-approval.ts', import.meta.url))
  const prefix = `warden-test:close:${process.pid}:${Date.now()}:`
  // Without warden.close() closing the store, the child would never exit and hit this guard.
  const out = execFileSync(
    process.execPath,
    ['--conditions=warden-source', '--import', 'tsx', script, prefix],
    {
      encoding: 'utf8',
      timeout: 25_000,
    },
  )
  expect(out.trim()).toBe('ran')
})
