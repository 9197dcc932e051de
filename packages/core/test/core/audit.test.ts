import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import {
  type AuditRecord,
  type AuditSink,
  type Command,
  createWarden,
  jsonlSink,
  pinoSink,
  toOcsf,
  verifyChain,
} from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'warden-audit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const file = () => join(dir, `audit-${++n}.jsonl`)

const policy = compilePolicy(`
defaults: { effect: allow }
rules:
  - name: no-drop
    when: '"DROP" in sql.types'
    effect: deny
`)
const sql = (text: string, type: string): Command => ({
  resource: { kind: 'postgres', name: 'db' },
  action: 'sql.query',
  text,
  sql: {
    text,
    statements: [],
    types: [type],
    reads: [],
    writes: [],
    tables: [],
    write: type !== 'SELECT',
    unbounded: false,
    functions: [],
    flags: [],
    parsed: true,
    error: '',
  },
})
const principal = { id: 'svc', type: 'service' } as const

async function writeChain(path: string, commands: number, fsync: 'always' | 'batch' | 'none' = 'batch') {
  const warden = createWarden({ policy, audit: jsonlSink(path, { fsync }) })
  const session = await warden.session({ principal })
  for (let i = 0; i < commands; i++) await session.execute(sql(`SELECT ${i}`, 'SELECT'), () => i)
  await warden.close()
}
const readLines = (path: string) => readFileSync(path, 'utf8').trimEnd().split('\n')

describe('jsonlSink + verifyChain', () => {
  it.each(['always', 'batch', 'none'] as const)('writes a verifiable chain (fsync %s)', async (fsync) => {
    const path = file()
    await writeChain(path, 20, fsync)
    const lines = readLines(path)
    // session open, a command record and an outcome record per command, session close
    expect(lines).toHaveLength(42)
    const recs = lines.map((l) => JSON.parse(l) as AuditRecord)
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 42 }, (_, i) => i + 1))
    expect(recs[1].prev).toBe(recs[0].hash)
    expect(recs[0].prev).toBe(`sha256:${'0'.repeat(64)}`)
    // canonical JSON: keys sorted, so the line is stable
    expect(Object.keys(JSON.parse(lines[1]))).toEqual([...Object.keys(JSON.parse(lines[1]))].sort())
    expect(await verifyChain(path)).toMatchObject({
      ok: true,
      count: 42,
      head: { seq: 42, hash: recs[41].hash },
    })
  })

  it('continues the chain across restarts', async () => {
    const path = file()
    await writeChain(path, 2)
    await writeChain(path, 2)
    const result = await verifyChain(path)
    expect(result).toMatchObject({ ok: true, count: 12 })
  })

  const tampered = async (edit: (lines: string[]) => string[]) => {
    const path = file()
    await writeChain(path, 6)
    writeFileSync(path, `${edit(readLines(path)).join('\n')}\n`)
    return verifyChain(path)
  }

  it('names the first bad seq for an edited record', async () => {
    const r = await tampered((lines) => {
      lines[5] = lines[5].replace('SELECT 2', 'SELECT 9')
      return lines
    })
    expect(r).toMatchObject({ ok: false, seq: 6, line: 6, count: 5, reason: expect.stringMatching(/edited/) })
  })

  it('detects a removed record', async () => {
    const r = await tampered((lines) => lines.filter((_, i) => i !== 2))
    expect(r).toMatchObject({ ok: false, seq: 4, line: 3, reason: expect.stringMatching(/missing/) })
  })

  it('detects a removed first record', async () => {
    const r = await tampered((lines) => lines.slice(1))
    expect(r).toMatchObject({ ok: false, seq: 2, line: 1 })
  })

  it('detects reordered records', async () => {
    const r = await tampered((lines) => {
      ;[lines[2], lines[3]] = [lines[3], lines[2]]
      return lines
    })
    expect(r).toMatchObject({ ok: false, seq: 4, line: 3 })
  })

  it('detects an inserted record, even with a valid hash of its own', async () => {
    const r = await tampered((lines) => {
      const copy = JSON.parse(lines[2]) as Record<string, unknown>
      // a forged record re-using seq 3's position: rehashing does not help without relinking the rest
      lines.splice(3, 0, JSON.stringify({ ...copy, command: 'SELECT forged' }))
      return lines
    })
    expect(r.ok).toBe(false)
    expect(r).toMatchObject({ seq: 3, line: 4 })
  })

  it('detects a truncated last line', async () => {
    const r = await tampered((lines) => {
      lines[lines.length - 1] = lines[lines.length - 1].slice(0, 30)
      return lines
    })
    expect(r).toMatchObject({ ok: false, line: 14 })
  })

  it('refuses to append to a file whose last line is not a record', () => {
    const path = file()
    writeFileSync(path, 'garbage\n')
    expect(() => jsonlSink(path)).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_AUDIT' }))
  })

  it('records denials, session open/close; no parameter values', async () => {
    const path = file()
    const warden = createWarden({ policy, audit: jsonlSink(path) })
    const session = await warden.session({ principal })
    await expect(session.execute(sql('DROP TABLE t', 'DROP'), () => 1)).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    await session.execute(sql('SELECT $1', 'SELECT'), () => 'value-CANARY-123')
    await warden.close()
    const text = readFileSync(path, 'utf8')
    expect(text).not.toContain('value-CANARY-123')
    const recs = readLines(path).map((l) => JSON.parse(l))
    // a refusal is one record; a command that runs is recorded before it runs, its outcome after
    expect(recs.map((r) => [r.type, r.outcome?.status])).toEqual([
      ['session.open', undefined],
      ['command', 'denied'],
      ['command', undefined],
      ['outcome', 'ok'],
      ['session.close', undefined],
    ])
    expect(recs[3].of).toBe(recs[2].id)
    expect(recs[4].operations).toBe(2)
  })
})

describe('several sinks', () => {
  it('each sink has its own chain, and both verify', async () => {
    const path = file()
    const mem = memorySink()
    const warden = createWarden({ policy, audit: [mem, jsonlSink(path)] })
    const session = await warden.session({ principal })
    await session.execute(sql('SELECT 1', 'SELECT'), () => 1)
    await warden.close()
    expect(mem.verify()).toMatchObject({ ok: true, count: 4 })
    expect(await verifyChain(path)).toMatchObject({ ok: true, count: 4 })
    const fileRecords = readLines(path).map((l) => JSON.parse(l) as AuditRecord)
    expect(fileRecords.map((r) => r.id)).toEqual(mem.entries.map((r) => r.id))
    // a closed Warden opens no sessions
    await expect(warden.session({ principal })).rejects.toMatchObject({ code: 'ERR_WARDEN_SESSION_CLOSED' })
  })
})

describe('failure and backpressure', () => {
  it('a failing sink fails later commands closed with ERR_WARDEN_AUDIT', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal })
    audit.fail(new Error('disk full'))
    let ran = 0
    // refused before it runs: the sink reports its failure
    await expect(session.execute(sql('SELECT 1', 'SELECT'), () => ++ran)).rejects.toMatchObject({
      code: 'ERR_WARDEN_AUDIT',
      message: expect.stringContaining('disk full'),
    })
    await expect(session.execute(sql('SELECT 1', 'SELECT'), () => ++ran)).rejects.toMatchObject({
      code: 'ERR_WARDEN_AUDIT',
    })
    expect(ran).toBe(0)
    await expect(warden.session({ principal })).rejects.toMatchObject({ code: 'ERR_WARDEN_AUDIT' })
    await expect(warden.close()).rejects.toMatchObject({ code: 'ERR_WARDEN_AUDIT' })
  })

  it('fail-open keeps running, warns, and marks records', async () => {
    const broken = memorySink()
    const good = memorySink()
    const warden = createWarden({ policy, audit: [broken, good], auditFailure: 'fail-open' })
    const session = await warden.session({ principal })
    broken.fail(new Error('sink down'))
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    await expect(session.execute(sql('SELECT 1', 'SELECT'), () => 'ok')).resolves.toBe('ok')
    await expect(session.execute(sql('SELECT 2', 'SELECT'), () => 'ok')).resolves.toBe('ok')
    await new Promise((r) => setImmediate(r))
    process.off('warning', onWarning)
    expect(warnings.some((w) => w.includes('fail-open'))).toBe(true)
    expect(good.commands()).toHaveLength(2)
    expect(good.records.every((r) => r.auditFailure === 'fail-open')).toBe(true)
    expect(good.verify().ok).toBe(true)
    await warden.close()
  })

  it('a sink without stored() is flushed: a command runs after its record is stored, returns after its outcome', async () => {
    const stored: string[] = []
    const pending: string[] = []
    const slow: AuditSink = {
      write(line) {
        pending.push(line)
        return true
      },
      async flush() {
        // resolves on a later turn, as a real buffered transport would
        await new Promise((r) => setImmediate(r))
        stored.push(...pending.splice(0))
      },
      async close() {
        await this.flush()
      },
    }
    const warden = createWarden({ policy, audit: slow })
    const session = await warden.session({ principal })
    for (let i = 0; i < 10; i++) {
      const result = await session.execute(sql(`SELECT ${i}`, 'SELECT'), () => {
        // its command record is already stored when it runs
        expect(JSON.parse(stored[stored.length - 1])).toMatchObject({
          type: 'command',
          command: `SELECT ${i}`,
        })
        return i
      })
      expect(result).toBe(i)
      expect(pending).toHaveLength(0)
      expect(JSON.parse(stored[stored.length - 1])).toMatchObject({
        type: 'outcome',
        outcome: { status: 'ok' },
      })
    }
    await warden.close()
    expect(stored).toHaveLength(22)
  })

  it('jsonlSink fsync always under 50-way concurrency stores every record, in one chain', async () => {
    const path = file()
    const sink = jsonlSink(path, { fsync: 'always' })
    const warden = createWarden({ policy, audit: sink })
    const session = await warden.session({ principal })
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => session.execute(sql(`SELECT ${i}`, 'SELECT'), () => i)),
    )
    await warden.close()
    expect(await verifyChain(path)).toMatchObject({ ok: true, count: 102 })
  })

  it('a sink that fails while the command runs withholds the result', async () => {
    let fail = false
    const sink: AuditSink = {
      write() {
        if (fail) throw new Error('EIO')
        return true
      },
      flush: async () => {},
      close: async () => {},
    }
    const warden = createWarden({ policy, audit: sink })
    const session = await warden.session({ principal })
    await expect(
      session.execute(sql('SELECT 1', 'SELECT'), () => {
        fail = true
        return 'rows'
      }),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_RAN_UNRECORDED',
      message: expect.stringMatching(/^the command ran, but/),
    })
    // and nothing runs after that
    await expect(session.execute(sql('SELECT 1', 'SELECT'), () => 'rows')).rejects.toMatchObject({
      code: 'ERR_WARDEN_AUDIT',
    })
    await warden.close().catch(() => {})
  })

  it('a jsonlSink write error (disk full) refuses what would run, as ERR_WARDEN_AUDIT', async () => {
    // /dev/full answers every write with ENOSPC; a link to it keeps the lock file in our folder
    const path = file()
    symlinkSync('/dev/full', path)
    const sink = jsonlSink(path, { fsync: 'none' })
    const warden = createWarden({ policy, audit: sink })
    await expect(warden.session({ principal })).rejects.toMatchObject({
      code: 'ERR_WARDEN_AUDIT',
      message: expect.stringMatching(/ENOSPC/),
    })
    await expect(warden.session({ principal })).rejects.toMatchObject({ code: 'ERR_WARDEN_AUDIT' })
    await expect(warden.close()).rejects.toMatchObject({
      code: 'ERR_WARDEN_AUDIT',
      message: expect.stringMatching(/ENOSPC/),
    })
    expect(sink.failure?.()).toBeDefined()
  })
})

describe('pinoSink and toOcsf', () => {
  it('sends records through pino, chained and verifiable', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).trim().split('\n'))
        cb()
      },
    })
    const logger = pino({ base: undefined }, stream)
    const warden = createWarden({ policy, audit: pinoSink(logger) })
    const session = await warden.session({ principal })
    await session.execute(sql('SELECT 1', 'SELECT'), () => 1)
    await warden.close()
    const logged = lines.map((l) => JSON.parse(l))
    expect(logged).toHaveLength(4)
    expect(logged[1]).toMatchObject({
      msg: 'warden.audit',
      level: 30,
      audit: { seq: 2, type: 'command', command: 'SELECT 1' },
    })
    expect(logged[1].audit.prev).toBe(logged[0].audit.hash)
  })

  it('toOcsf refuses what is not an audit record, with a typed error', () => {
    for (const bad of [null, undefined, 'x', {}])
      expect(() => toOcsf(bad as never)).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }))
  })

  it('maps records to OCSF classes', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal })
    await session.execute(sql('SELECT 1', 'SELECT'), () => 1)
    await expect(session.execute(sql('DROP TABLE t', 'DROP'), () => 1)).rejects.toThrow()
    await session.execute(
      { resource: { kind: 'kubernetes', name: 'prod' }, action: 'kube.delete', text: 'DELETE pods/x' },
      () => 1,
    )
    await warden.close()
    const [open, select, drop, kube, close] = audit.records.map(toOcsf)
    expect(open).toMatchObject({ class_uid: 3002, activity_id: 1, type_uid: 300201, status_id: 1 })
    expect(close).toMatchObject({ class_uid: 3002, activity_id: 2 })
    expect(select).toMatchObject({
      class_uid: 6005,
      category_uid: 6,
      activity_id: 4,
      type_uid: 600504,
      status_id: 1,
      action_id: 1,
      actor: { user: { uid: 'svc' } },
      database: { name: 'db', type: 'PostgreSQL' },
      query_info: { query_string: 'SELECT 1' },
      metadata: { version: '1.8.0', sequence: 2 },
    })
    expect(drop).toMatchObject({
      class_uid: 6005,
      activity_id: 7,
      status_id: 2,
      action_id: 2,
      disposition_id: 2,
      policy: { name: 'no-drop' },
    })
    expect(kube).toMatchObject({
      class_uid: 6003,
      activity_id: 4,
      api: { operation: 'kube.delete' },
      resources: [{ name: 'prod', type: 'kubernetes' }],
    })
    expect(select.time).toBe(Date.parse(audit.records[1].time))
  })
})
