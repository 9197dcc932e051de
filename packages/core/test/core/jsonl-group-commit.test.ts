// jsonlSink with fsync 'batch' writes lines promptly and groups fdatasyncs (at most one per few ms
// unless someone waits): lines are in the file without flush, flush() still waits for a sync and
// resolves promptly, and nothing is lost or reordered across many small bursts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jsonlSink } from '@warden/core'
import { afterAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'warden-group-commit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const line = (i: number) => JSON.stringify({ seq: i, hash: `h${i}` })
const turn = () => new Promise((resolve) => setImmediate(resolve))
const readLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean)

describe('jsonlSink fsync batch (group commit)', () => {
  it('keeps every line in order across bursts, writes them without a flush, and flush resolves', async () => {
    const path = join(dir, 'bursts.jsonl')
    const sink = jsonlSink(path, { fsync: 'batch' })
    let n = 0
    for (let burst = 0; burst < 50; burst++) {
      for (let i = 0; i < 1 + (burst % 5); i++) sink.write(line(++n), {} as never)
      await turn()
    }
    // written to the file (page cache) before any flush: a crash of the process loses nothing queued a turn ago
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(readLines(path).length).toBe(n)
    sink.write(line(++n), {} as never)
    await sink.flush()
    expect(readLines(path)).toEqual(Array.from({ length: n }, (_, i) => line(i + 1)))
    await sink.close()
  })

  it('flush right after a write (sync pending in the interval) resolves, and close after it', async () => {
    const path = join(dir, 'pending.jsonl')
    const sink = jsonlSink(path, { fsync: 'batch' })
    for (let i = 1; i <= 3; i++) {
      sink.write(line(i), {} as never)
      await turn()
      await turn()
    }
    await sink.flush()
    expect(readLines(path)).toHaveLength(3)
    sink.write(line(4), {} as never)
    await sink.close()
    expect(readLines(path)).toHaveLength(4)
    expect(() => sink.write(line(5), {} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_AUDIT' }),
    )
  })
})
