import { execFile } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'
import { GENESIS, sealRecord } from '../../src/internal/audit-chain.js'
import { commandRecord } from './chain-fixture.js'

const dir = mkdtempSync(join(tmpdir(), 'warden-verify-large-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Writes `bytes` of valid chained lines, a few MB at a time (the log is never in memory). */
function writeLog(path: string, bytes: number): number {
  const fd = openSync(path, 'w')
  const pad = 'x'.repeat(900)
  let prev = GENESIS
  let seq = 0
  let written = 0
  try {
    while (written < bytes) {
      let batch = ''
      while (batch.length < 4 << 20) {
        const { hash, line } = sealRecord({
          ...commandRecord(++seq, { command: `SELECT '${pad}' -- ${seq}` }),
          seq,
          prev,
        })
        prev = hash
        batch += `${line}\n`
      }
      written += writeSync(fd, batch)
    }
  } finally {
    closeSync(fd)
  }
  return seq
}

it('a 200 MB log verifies with a small, bounded heap (streamed, never one string)', {
  timeout: 120_000,
}, async () => {
  const path = join(dir, 'big.jsonl')
  const count = writeLog(path, 200 << 20)
  expect(statSync(path).size).toBeGreaterThanOrEqual(200 << 20)
  // An old space of 48 MB cannot hold the file as a string (the old verifier needed ~2.5× the file).
  const script = fileURLToPath(new URL('./fixtures/verify-memory.ts', import.meta.url))
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--max-old-space-size=48', '--conditions=warden-source', '--import', 'tsx', script, path],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  )
  const { result, before, peak } = JSON.parse(stdout)
  expect(result).toMatchObject({ ok: true, count, head: { seq: count } })
  expect(peak.heapUsed - before.heapUsed).toBeLessThan(48 << 20)
  expect(peak.arrayBuffers).toBeLessThan(8 << 20)
})
