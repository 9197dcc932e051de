import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Checkpoint,
  checkpointKeyId,
  checkpointSignatureValid,
  createCheckpointer,
  fileCheckpoints,
  generateCheckpointKeys,
  pinoCheckpoints,
  readCheckpoints,
  verifyChain,
} from '@warden/core'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { checkpointPublicKey } from '../../src/audit/checkpoint.js'
import { checkpointsFor, commandRecord, commands, seal, writeLines } from './chain-fixture.js'

const dir = mkdtempSync(join(tmpdir(), 'warden-checkpoints-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const file = (lines: readonly string[]) => writeLines(join(dir, `log-${++n}.jsonl`), lines)

const keys = generateCheckpointKeys()
const other = generateCheckpointKeys()

// The writer's log: 30 records, a checkpoint every 10, closed at 30.
const log = commands(30)
const cps = await checkpointsFor(keys.privateKey, log.hashes)
const verify = (
  lines: readonly string[],
  checkpoints: readonly Checkpoint[] = cps,
  publicKey = keys.publicKey,
) => verifyChain(file(lines), { checkpoints, publicKey })

describe('checkpoints detect what the chain alone cannot', () => {
  it('the writer emits count checkpoints and a close, all signed; the intact log verifies', async () => {
    expect(cps.map((c) => [c.reason, c.seq])).toEqual([
      ['count', 10],
      ['count', 20],
      ['count', 30],
      ['close', 30],
    ])
    expect(cps.every((c) => c.log === log.hashes[0] && c.kid === keys.kid)).toBe(true)
    expect(cps.every((c) => checkpointSignatureValid(c, checkpointPublicKey(keys.publicKey)))).toBe(true)
    expect(await verify(log.lines)).toEqual({
      ok: true,
      count: 30,
      head: { seq: 30, hash: log.hashes[29] },
      checkpoints: { verified: 4, covered: { seq: 30, hash: log.hashes[29] }, uncovered: 0, closed: true },
    })
  })

  it('truncation: the last records removed', async () => {
    const cut = log.lines.slice(0, 25)
    expect(await verifyChain(file(cut))).toMatchObject({ ok: true, count: 25 })
    const r = await verify(cut)
    expect(r).toMatchObject({ ok: false, code: 'truncated', seq: 26, count: 25 })
    expect(r.ok === false && r.reason).toContain('records 26..30 were removed (truncated)')
  })

  it('truncation to nothing: an emptied log still has checkpoints vouching for its records', async () => {
    expect(await verifyChain(file([]))).toEqual({ ok: true, count: 0, head: undefined })
    expect(await verify([])).toMatchObject({ ok: false, code: 'truncated', seq: 1, count: 0 })
  })

  it('deletion + re-chain: a record removed and the rest sealed again', async () => {
    const kept = Array.from({ length: 30 }, (_, i) => commandRecord(i + 1)).filter((_, i) => i !== 14)
    const rechained = seal(kept).lines
    expect(await verifyChain(file(rechained))).toMatchObject({ ok: true, count: 29 })
    const r = await verify(rechained)
    expect(r).toMatchObject({ ok: false, code: 'rewritten', seq: 20, line: 20 })
    expect(r.ok === false && r.reason).toContain('re-chained')
  })

  it('edit + re-chain of the tail', async () => {
    const records = Array.from({ length: 30 }, (_, i) => commandRecord(i + 1))
    records[27] = commandRecord(28, { command: 'DELETE FROM orders' })
    const tail = seal(records.slice(27), { seq: 27, hash: log.hashes[26] }).lines
    const r = await verify([...log.lines.slice(0, 27), ...tail])
    expect(r).toMatchObject({ ok: false, code: 'rewritten', seq: 30 })
  })

  it('forged append after close: a chained "approved by alice" record', async () => {
    const forged = seal([commandRecord(31, { approval: { id: 'a1', status: 'approved', by: 'alice' } })], {
      seq: 30,
      hash: log.hashes[29],
    }).lines
    expect(await verifyChain(file([...log.lines, ...forged]))).toMatchObject({ ok: true, count: 31 })
    const r = await verify([...log.lines, ...forged])
    expect(r).toMatchObject({ ok: false, code: 'forged-append', seq: 31, line: 31 })
    expect(r.ok === false && r.reason).toContain('appended after the log was closed at seq 30')
  })

  it('a writer that reopens the log vouches for its head first: its appends verify', async () => {
    const more = commands(5, { seq: 30, hash: log.hashes[29] })
    const reopened = await checkpointsFor(keys.privateKey, more.hashes, {
      from: 31,
      open: { seq: 30, hash: log.hashes[29], log: log.hashes[0] },
    })
    expect(reopened.map((c) => [c.reason, c.seq])).toEqual([
      ['open', 30],
      ['close', 35],
    ])
    expect(await verify([...log.lines, ...more.lines], [...cps, ...reopened])).toMatchObject({
      ok: true,
      count: 35,
      checkpoints: { verified: 6, uncovered: 0, closed: true },
    })
  })

  it('records slipped in between a close and the next open are still a forged append', async () => {
    const slipped = commands(2, { seq: 30, hash: log.hashes[29] })
    const reopened = await checkpointsFor(keys.privateKey, [], {
      close: false,
      open: { seq: 32, hash: slipped.hashes[1], log: log.hashes[0] },
    })
    const r = await verify([...log.lines, ...slipped.lines], [...cps, ...reopened])
    expect(r).toMatchObject({ ok: false, code: 'forged-append', seq: 31 })
  })

  it('reports the trailing records no checkpoint covers yet (a live log, or appends after a crash)', async () => {
    const live = await checkpointsFor(keys.privateKey, log.hashes.slice(0, 27), { close: false })
    expect(await verify(log.lines, live)).toMatchObject({
      ok: true,
      checkpoints: { verified: 2, covered: { seq: 20 }, uncovered: 10, closed: false },
    })
  })

  it('a bad signature: a checkpoint altered to vouch for another head', async () => {
    const altered = cps.map((c) => (c.seq === 20 ? { ...c, seq: 25, hash: log.hashes[24] } : c))
    const r = await verify(log.lines, altered)
    expect(r).toMatchObject({ ok: false, code: 'bad-signature', seq: 25, line: 0 })
    expect(r.ok === false && r.reason).toContain('forged or altered')
    // One signature byte changed (in R: the last bytes of S are often zero already).
    const flip = (sig: string) => `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`
    const junk = cps.map((c) => (c.seq === 10 ? { ...c, sig: flip(c.sig) } : c))
    expect(await verify(log.lines, junk)).toMatchObject({ ok: false, code: 'bad-signature', seq: 10 })
  })

  it('the wrong key: checkpoints signed by another key, or verified with another public key', async () => {
    const r = await verify(log.lines, cps, other.publicKey)
    expect(r).toMatchObject({ ok: false, code: 'wrong-key' })
    expect(r.ok === false && r.reason).toContain(keys.kid)
    expect(r.ok === false && r.reason).toContain(other.kid)
    // An attacker's own key re-signing a rewritten log's checkpoints fails the same way.
    const rewritten = seal(
      Array.from({ length: 30 }, (_, i) => commandRecord(i + 1, { command: 'DROP TABLE x' })),
    )
    const theirs = await checkpointsFor(other.privateKey, rewritten.hashes)
    expect(await verify(rewritten.lines, theirs)).toMatchObject({ ok: false, code: 'wrong-key' })
  })

  it('a log rewritten from its first record no longer matches its checkpoints', async () => {
    const rewritten = seal(Array.from({ length: 30 }, (_, i) => commandRecord(i + 1, { session: 's2' })))
    expect(await verify(rewritten.lines)).toMatchObject({ ok: false, code: 'other-log', seq: 1 })
    expect(
      await verifyChain(file(rewritten.lines), {
        checkpoints: cps,
        publicKey: keys.publicKey,
        log: log.hashes[0],
      }),
    ).toMatchObject({ ok: false, code: 'other-log', seq: 1 })
  })

  it('checks a suffix against the checkpoints at and after its start', async () => {
    const suffix = file(log.lines.slice(20))
    const opts = { checkpoints: cps, publicKey: keys.publicKey }
    expect(await verifyChain(suffix, { ...opts, start: { seq: 20, hash: log.hashes[19] } })).toMatchObject({
      ok: true,
      count: 10,
      checkpoints: { verified: 3, closed: true },
    })
    // A start hash that is not what the checkpoint at that seq signed.
    const fake = seal([commandRecord(21)], { seq: 20, hash: `sha256:${'1'.repeat(64)}` }).lines
    expect(
      await verifyChain(file(fake), { ...opts, start: { seq: 20, hash: `sha256:${'1'.repeat(64)}` } }),
    ).toMatchObject({ ok: false, code: 'rewritten', seq: 20, line: 0 })
  })

  it('refuses checkpoints without a public key, and malformed checkpoints', async () => {
    await expect(verifyChain(file(log.lines), { checkpoints: cps })).rejects.toThrow(/publicKey/)
    expect(await verify(log.lines, [{ ...cps[0], seq: -1 }])).toMatchObject({
      ok: false,
      code: 'bad-checkpoint',
    })
    expect(() => checkpointPublicKey('not a key')).toThrow(/SPKI PEM/)
    expect(() => createCheckpointer({ key: keys.publicKey, store: { append: async () => {} } })).toThrow(
      /private key/,
    )
  })
})

describe('createCheckpointer', () => {
  afterEach(() => vi.useRealTimers())

  it('keeps at most one checkpoint in flight; the next one carries the newest head', async () => {
    const stored: Checkpoint[] = []
    const release: (() => void)[] = []
    const cp = createCheckpointer({
      key: keys.privateKey,
      every: 2,
      store: { append: (c) => new Promise<void>((r) => release.push(() => r(void stored.push(c)))) },
    })
    for (let seq = 1; seq <= 9; seq++) cp.written(seq, log.hashes[seq - 1])
    expect(release).toHaveLength(1)
    release.shift()?.()
    await vi.waitFor(() => expect(release).toHaveLength(1))
    release.shift()?.()
    await cp.settled()
    expect(stored.map((c) => c.seq)).toEqual([2, 9])
    const closing = cp.close(9, log.hashes[8])
    await vi.waitFor(() => expect(release).toHaveLength(1))
    release.shift()?.()
    await closing
    expect(stored.map((c) => c.reason)).toEqual(['count', 'count', 'close'])
  })

  it('checkpoints on an interval when records were written, not when idle', async () => {
    vi.useFakeTimers()
    const stored: Checkpoint[] = []
    const clock = () => new Date('2026-01-01T00:00:00.000Z')
    const cp = createCheckpointer({
      key: keys.privateKey,
      intervalMs: 1000,
      clock,
      store: { append: async (c) => void stored.push(c) },
    })
    cp.written(1, log.hashes[0])
    cp.written(2, log.hashes[1])
    await vi.advanceTimersByTimeAsync(1000)
    expect(stored.map((c) => [c.reason, c.seq, c.time])).toEqual([
      ['interval', 2, '2026-01-01T00:00:00.000Z'],
    ])
    await vi.advanceTimersByTimeAsync(5000)
    expect(stored).toHaveLength(1)
    await cp.close(2, log.hashes[1])
    expect(stored.map((c) => c.reason)).toEqual(['interval', 'close'])
  })

  it('a failing store fails the checkpointer: failure() is set, opened() and close() reject', async () => {
    const cp = createCheckpointer({
      key: keys.privateKey,
      every: 1,
      store: { append: async () => Promise.reject(new Error('ENOSPC: no space left on device')) },
    })
    expect(cp.failure()).toBeUndefined()
    cp.written(1, log.hashes[0])
    await cp.settled()
    expect(cp.failure()).toMatchObject({
      code: 'ERR_WARDEN_AUDIT',
      message: expect.stringContaining('ENOSPC'),
    })
    await expect(cp.close(1, log.hashes[0])).rejects.toMatchObject({ code: 'ERR_WARDEN_AUDIT' })
    const reopen = createCheckpointer({
      key: keys.privateKey,
      store: { append: async () => Promise.reject(new Error('down')) },
    })
    await expect(reopen.opened(30, log.hashes[29], log.hashes[0])).rejects.toThrow(/down/)
    const unknown = createCheckpointer({ key: keys.privateKey, store: { append: async () => {} } })
    await expect(unknown.opened(30, log.hashes[29])).rejects.toThrow(/chain's id/)
  })
})

describe('checkpoint stores', () => {
  it('fileCheckpoints appends durable canonical lines that readCheckpoints reads back', async () => {
    const path = join(dir, 'audit.checkpoints')
    const out = await checkpointsFor(keys.privateKey, log.hashes)
    const store = fileCheckpoints(path)
    for (const c of out) await store.append(c)
    await store.close?.()
    await expect(store.append(out[0])).rejects.toThrow(/after close/)
    expect(statSync(path).mode & 0o777).toBe(0o640)
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(out.length + 1)
    expect(await readCheckpoints(path)).toEqual(out)
    expect(
      await verifyChain(file(log.lines), { checkpoints: path, publicKey: keys.publicKey }),
    ).toMatchObject({
      ok: true,
      checkpoints: { verified: 4 },
    })
    writeFileSync(join(dir, 'bad.checkpoints'), '{"v":1}\nnot json\n')
    await expect(readCheckpoints(join(dir, 'bad.checkpoints'))).rejects.toThrow(/:1: not a checkpoint/)
  })

  it("a reopening writer takes the chain id from the file store's last checkpoint when seq 1 is archived", async () => {
    const path = join(dir, 'reopen.checkpoints')
    const first = createCheckpointer({ key: keys.privateKey, store: fileCheckpoints(path), every: 10 })
    for (let i = 0; i < 30; i++) first.written(i + 1, log.hashes[i])
    await first.close(30, log.hashes[29])
    const second = createCheckpointer({ key: keys.privateKey, store: fileCheckpoints(path) })
    await second.opened(30, log.hashes[29])
    const more = commands(2, { seq: 30, hash: log.hashes[29] })
    second.written(31, more.hashes[0])
    second.written(32, more.hashes[1])
    await second.close(32, more.hashes[1])
    const stored = await readCheckpoints(path)
    expect(stored.slice(-3).map((c) => [c.reason, c.seq, c.log])).toEqual([
      ['close', 30, log.hashes[0]],
      ['open', 30, log.hashes[0]],
      ['close', 32, log.hashes[0]],
    ])
    expect(
      await verifyChain(file([...log.lines, ...more.lines]), {
        checkpoints: path,
        publicKey: keys.publicKey,
      }),
    ).toMatchObject({ ok: true, checkpoints: { closed: true, uncovered: 0 } })
  })

  it('pinoCheckpoints writes {checkpoint} lines a pino log carries; readCheckpoints skips other lines', async () => {
    const path = join(dir, 'pino.log')
    const logger = pino(pino.destination({ dest: path, sync: true }))
    logger.info('unrelated line')
    const store = pinoCheckpoints(logger)
    for (const c of cps) await store.append(c)
    await store.close?.()
    expect(await readCheckpoints(path)).toEqual(cps)
  })

  it('a callback store: checkpoints in a Redis list (real Redis), read back and verified', async () => {
    const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true })
    await redis.connect()
    const list = `warden-test:checkpoints:${process.pid}:${Date.now()}`
    try {
      const out = await checkpointsFor(keys.privateKey, log.hashes, {
        store: { append: (c) => redis.rpush(list, JSON.stringify(c)).then(() => undefined) },
      })
      expect(out).toEqual([])
      const stored = (await redis.lrange(list, 0, -1)).map((l) => JSON.parse(l) as Checkpoint)
      expect(stored.map((c) => c.reason)).toEqual(['count', 'count', 'count', 'close'])
      expect(await verify(log.lines, stored)).toMatchObject({
        ok: true,
        checkpoints: { verified: 4, closed: true },
      })
      expect(await verify(log.lines.slice(0, 29), stored)).toMatchObject({ ok: false, code: 'truncated' })
      // Redis down: the checkpointer fails, and with it the sink (closed).
      const down = createCheckpointer({
        key: keys.privateKey,
        every: 1,
        store: { append: (c) => redis.rpush(list, JSON.stringify(c)).then(() => undefined) },
      })
      redis.disconnect()
      down.written(1, log.hashes[0])
      await down.settled()
      expect(down.failure()).toMatchObject({ code: 'ERR_WARDEN_AUDIT' })
    } finally {
      const cleanup = new Redis('redis://127.0.0.1:6379')
      await cleanup.del(list)
      cleanup.disconnect()
    }
  })

  it('key ids name the public key', () => {
    expect(checkpointKeyId(keys.privateKey)).toBe(keys.kid)
    expect(checkpointKeyId(keys.publicKey)).toBe(keys.kid)
    expect(keys.kid).toMatch(/^ed25519:[0-9a-f]{16}$/)
  })
})
