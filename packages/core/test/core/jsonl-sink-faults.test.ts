// jsonlSink's file handling: one writer per file (across processes, stale locks of killed ones
// taken over), torn tails cut and recorded, a lost final newline restored, rotation into chained
// segments, and synchronous flushes.
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { auditSegments, type Command, createWarden, jsonlSink, verifyChain } from '@warden/core'
import { compilePolicy } from '@warden/policy'
import { afterAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'warden-jsonl-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const file = () => join(dir, `audit-${++n}.jsonl`)
const policy = compilePolicy('defaults: { effect: allow }\nrules: []')
const principal = { id: 'svc', type: 'service' } as const
const cmd = (i: number): Command => ({
  resource: { kind: 'tool', name: 't' },
  action: 'tool.call',
  text: `call ${i}`,
})
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean)

async function writeCommands(path: string, count: number, options?: Parameters<typeof jsonlSink>[1]) {
  const warden = createWarden({ policy, audit: jsonlSink(path, options), signals: false })
  const session = await warden.session({ principal })
  for (let i = 0; i < count; i++) await session.execute(cmd(i), () => i)
  await warden.close()
}

function holder(path: string): { child: ChildProcess; ready: Promise<void>; exited: Promise<unknown> } {
  const script = fileURLToPath(new URL('./fixtures/hold-sink.ts', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=warden-source', '--import', 'tsx', script, path], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const ready = (async () => {
    for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream }))
      if (line === 'ready') return
    throw new Error('the holder ended before it was ready')
  })()
  const exited = new Promise((resolve) => child.on('exit', resolve))
  return { child, ready, exited }
}

/** Concatenates a log's segments, to verify them as one chain. */
function joinSegments(path: string): string {
  const out = `${path}.all`
  writeFileSync(
    out,
    auditSegments(path)
      .map((p) => (existsSync(p) ? readFileSync(p, 'utf8') : ''))
      .join(''),
  )
  return out
}

describe('one writer per file', () => {
  it('a second sink on the same file in this process is refused while the first is open', async () => {
    const path = file()
    const first = jsonlSink(path)
    expect(() => jsonlSink(path)).toThrow(
      expect.objectContaining({
        code: 'ERR_WARDEN_AUDIT',
        message: expect.stringMatching(/already being written by this process/),
      }),
    )
    await first.close()
    await jsonlSink(path).close()
  })

  it('another process holding the file keeps us out until it closes it', async () => {
    const path = file()
    const h = holder(path)
    await h.ready
    expect(() => jsonlSink(path)).toThrow(
      expect.objectContaining({
        code: 'ERR_WARDEN_AUDIT',
        message: expect.stringContaining(`pid ${h.child.pid}`),
      }),
    )
    h.child.stdin?.end()
    await h.exited
    expect(existsSync(`${path}.lock`)).toBe(false)
    await writeCommands(path, 1)
    // the holder's session open and close, then ours
    expect(await verifyChain(path)).toMatchObject({ ok: true, count: 2 + 4 })
  })

  it('the lock of a killed process is stale: the next writer takes it over and continues the chain', async () => {
    const path = file()
    const h = holder(path)
    await h.ready
    h.child.kill('SIGKILL')
    await h.exited
    expect(existsSync(`${path}.lock`)).toBe(true)
    await writeCommands(path, 2)
    expect(await verifyChain(path)).toMatchObject({ ok: true, count: 1 + 6 })
  })
})

describe('the end of the file', () => {
  it('a torn last line is cut off on open, and the cut is recorded in the chain', async () => {
    const path = file()
    await writeCommands(path, 2)
    const torn = '{"v":1,"id":"x","time":"2026-'
    appendFileSync(path, torn)
    await writeCommands(path, 1)
    const recs = lines(path).map((l) => JSON.parse(l))
    const repair = recs.find((r) => r.type === 'repair')
    expect(repair).toMatchObject({
      seq: 7,
      truncated: { bytes: torn.length, sha256: `sha256:${createHash('sha256').update(torn).digest('hex')}` },
    })
    expect(repair.prev).toBe(recs[5].hash)
    expect(readFileSync(path, 'utf8')).not.toContain(torn)
    expect(await verifyChain(path)).toMatchObject({ ok: true, count: 6 + 1 + 4 })
  })

  it('a file that is all torn (the first write cut short) starts the chain with the repair', async () => {
    const path = file()
    writeFileSync(path, '{"v":1,"id":"y","ti')
    await writeCommands(path, 1)
    expect(JSON.parse(lines(path)[0])).toMatchObject({ type: 'repair', seq: 1, truncated: { bytes: 19 } })
    expect(await verifyChain(path)).toMatchObject({ ok: true, count: 5 })
  })

  it('a whole last record that lost only its newline keeps its place: the newline is restored, no repair', async () => {
    const path = file()
    await writeCommands(path, 1)
    truncateSync(path, readFileSync(path).length - 1)
    await writeCommands(path, 1)
    const recs = lines(path).map((l) => JSON.parse(l))
    expect(recs.map((r) => r.type)).not.toContain('repair')
    expect(recs).toHaveLength(8)
    expect(await verifyChain(path)).toMatchObject({ ok: true, count: 8 })
  })

  it('a complete last line that is not a record is not a torn write: the sink refuses the file', () => {
    const path = file()
    writeFileSync(path, '{"seq": "not a record"}\n')
    expect(() => jsonlSink(path)).toThrow(
      expect.objectContaining({
        code: 'ERR_WARDEN_AUDIT',
        message: expect.stringMatching(/not an audit record/),
      }),
    )
    // and leaves no lock behind
    expect(existsSync(`${path}.lock`)).toBe(false)
  })
})

describe('rotation', () => {
  it('by size: segments chain into one log, and a restart continues from the newest', async () => {
    const path = file()
    await writeCommands(path, 30, { rotate: { maxBytes: 4096 } })
    const segments = auditSegments(path)
    expect(segments.length).toBeGreaterThan(3)
    expect(segments.slice(0, -1).every((p) => /\.\d{6}$/.test(p))).toBe(true)
    for (const p of segments.slice(0, -1)) expect(readFileSync(p).length).toBeGreaterThanOrEqual(4096)
    await writeCommands(path, 5, { rotate: { maxBytes: 4096 } })
    expect(await verifyChain(joinSegments(path))).toMatchObject({ ok: true, count: 2 + 60 + 2 + 10 })
  })

  it('by age: a segment older than intervalMs is closed at the next write', async () => {
    const path = file()
    const warden = createWarden({
      policy,
      audit: jsonlSink(path, { rotate: { intervalMs: 1 } }),
      signals: false,
    })
    const session = await warden.session({ principal })
    for (let i = 0; i < 3; i++) {
      await session.execute(cmd(i), () => i)
      // Age is what is under test: let the segment grow older than its interval.
      await new Promise((r) => setTimeout(r, 3))
    }
    await warden.close()
    expect(auditSegments(path).length).toBeGreaterThanOrEqual(4)
    expect(await verifyChain(joinSegments(path))).toMatchObject({ ok: true, count: 8 })
  })

  it('rejects bad rotation and fsync options with a typed error', () => {
    expect(() => jsonlSink(file(), { rotate: { maxBytes: 0 } })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }),
    )
    expect(() => jsonlSink(file(), { rotate: { intervalMs: -1 } })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }),
    )
    expect(() => jsonlSink(file(), { fsync: 'sometimes' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }),
    )
  })
})

describe('flushSync', () => {
  it('puts what was written in the file before it returns (what a signal handler needs)', async () => {
    const path = file()
    const warden = createWarden({ policy, audit: jsonlSink(path, { fsync: 'always' }), signals: false })
    const session = await warden.session({ principal })
    // Two commands in one turn: the first record goes out at once, the second waits for the turn's end.
    const pending = [session.execute(cmd(1), () => 1), session.execute(cmd(2), () => 2)]
    expect(lines(path)).toHaveLength(2)
    warden.flushSync()
    expect(lines(path).map((l) => JSON.parse(l).type)).toEqual(['session.open', 'command', 'command'])
    await Promise.all(pending)
    await warden.close()
    expect(await verifyChain(path)).toMatchObject({ ok: true, count: 6 })
  })
})
