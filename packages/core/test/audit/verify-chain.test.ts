import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { auditChainId, verifyChain } from '@warden/core'
import { afterAll, describe, expect, it } from 'vitest'
import { verifyLines } from '../../src/internal/verify-lines.js'
import { commandRecord, commands, seal, writeLines } from './chain-fixture.js'

const dir = mkdtempSync(join(tmpdir(), 'warden-verify-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const file = (lines: readonly string[]) => writeLines(join(dir, `log-${++n}.jsonl`), lines)

describe('verifyChain: one chain over files, streamed', () => {
  it('verifies an intact log and reports its head', async () => {
    const { lines, hashes } = commands(25)
    expect(await verifyChain(file(lines))).toEqual({
      ok: true,
      count: 25,
      head: { seq: 25, hash: hashes[24] },
    })
    expect(verifyLines(lines)).toEqual({ ok: true, count: 25, head: { seq: 25, hash: hashes[24] } })
  })

  it('verifies rotated segments as one chain, and names the segment of a bad line', async () => {
    const { lines, hashes } = commands(30)
    const segs = [file(lines.slice(0, 10)), file(lines.slice(10, 20)), file(lines.slice(20))]
    expect(await verifyChain(segs)).toMatchObject({
      ok: true,
      count: 30,
      head: { seq: 30, hash: hashes[29] },
    })
    // Segments out of order, or one missing, break the chain at the first line of the next one.
    expect(await verifyChain([segs[0], segs[2]])).toMatchObject({
      ok: false,
      code: 'missing',
      seq: 21,
      file: segs[2],
      line: 1,
      count: 10,
    })
    const edited = lines.slice(10, 20)
    edited[4] = edited[4].replace('SELECT 15', 'SELECT 99')
    const bad = [segs[0], file(edited), segs[2]]
    expect(await verifyChain(bad)).toMatchObject({
      ok: false,
      code: 'edited',
      seq: 15,
      file: bad[1],
      line: 5,
    })
    expect(await auditChainId(segs)).toBe(hashes[0])
    expect(await auditChainId(segs[1])).toBeUndefined()
  })

  it('verifies a suffix from a start {seq, hash} when earlier segments are archived', async () => {
    const { lines, hashes } = commands(20)
    const suffix = file(lines.slice(12))
    expect(await verifyChain(suffix)).toMatchObject({ ok: false, code: 'missing', seq: 13 })
    expect(await verifyChain(suffix, { start: { seq: 12, hash: hashes[11] } })).toMatchObject({
      ok: true,
      count: 8,
      head: { seq: 20, hash: hashes[19] },
    })
    expect(await verifyChain(suffix, { start: { seq: 12, hash: hashes[10] } })).toMatchObject({
      ok: false,
      code: 'start-mismatch',
      seq: 13,
    })
    expect(await verifyChain(suffix, { start: { seq: 11, hash: hashes[10] } })).toMatchObject({
      ok: false,
      code: 'start-mismatch',
    })
  })

  it('a missing final newline is a torn file, unless the log is live (then the tail is pending)', async () => {
    const { lines } = commands(3)
    const path = join(dir, 'torn.jsonl')
    writeFileSync(path, lines.join('\n'))
    const torn = await verifyChain(path)
    expect(torn).toMatchObject({ ok: false, code: 'torn', seq: 3, line: 3, count: 2 })
    expect(torn.ok === false && torn.reason).toContain('no final newline')
    expect(await verifyChain(path, { live: true })).toMatchObject({
      ok: true,
      count: 2,
      pending: lines[2].length,
    })
    // Torn in a non-final segment is always an error, live or not.
    const seg = join(dir, 'torn-seg.jsonl')
    writeFileSync(seg, lines.slice(0, 2).join('\n'))
    expect(await verifyChain([seg, file([lines[2]])], { live: true })).toMatchObject({
      ok: false,
      code: 'torn',
      file: seg,
    })
  })

  it('reads lines longer than its read buffer, and bounds a line by maxLineBytes', async () => {
    const big = seal([commandRecord(1, { command: `SELECT '${'x'.repeat(3 << 20)}'` }), commandRecord(2)])
    const path = file(big.lines)
    expect(await verifyChain(path)).toMatchObject({ ok: true, count: 2 })
    expect(await verifyChain(path, { maxLineBytes: 1 << 20 })).toMatchObject({
      ok: false,
      code: 'line-too-long',
      line: 1,
    })
  })
})

describe('verifyChain: each line must be its canonical form', () => {
  const { lines } = commands(3)
  const variant = async (second: string) => verifyChain(file([lines[0], second, lines[2]]))

  it('rejects a duplicate key, which JSON.parse would resolve silently to the last one', async () => {
    // The attack from issue 16: readers keeping the first "command" see DROP TABLE, JSON.parse sees SELECT 2.
    const dup = lines[1].replace(
      '"command":"SELECT 2"',
      '"command":"DROP TABLE customers","command":"SELECT 2"',
    )
    expect(JSON.parse(dup).command).toBe('SELECT 2')
    const r = await variant(dup)
    expect(r).toMatchObject({ ok: false, code: 'duplicate-key', seq: 2, line: 2, count: 1 })
    expect(r.ok === false && r.reason).toContain('duplicate key "command"')
  })

  it.each([
    ['whitespace', (l: string) => l.replace('"command":', '"command": ')],
    ['a trailing carriage return', (l: string) => `${l}\r`],
    ['key order', (l: string) => l.replace(/^\{("action":"sql.query",)("command":"SELECT 2",)/, '{$2$1')],
    ['a number form', (l: string) => l.replace('"seq":2,', '"seq":2.0,')],
    ['an exponent', (l: string) => l.replace('"seq":2,', '"seq":2e0,')],
    ['an escape', (l: string) => l.replace('"SELECT 2"', '"\\u0053ELECT 2"')],
  ])('rejects %s that leaves the parsed record (and its hash) unchanged', async (_, edit) => {
    const changed = edit(lines[1])
    expect(changed).not.toBe(lines[1])
    expect(JSON.parse(changed)).toEqual(JSON.parse(lines[1]))
    const r = await variant(changed)
    expect(r).toMatchObject({ ok: false, code: 'not-canonical', seq: 2, line: 2 })
    expect(r.ok === false && r.reason).toContain('not in canonical form')
  })

  it('rejects bytes that are not UTF-8, even where they decode to the same text', async () => {
    const path = join(dir, 'latin1.jsonl')
    const bytes = Buffer.from(`${lines.join('\n')}\n`)
    const at = bytes.indexOf('SELECT 2')
    bytes[at] = 0xff
    writeFileSync(path, bytes)
    expect(await verifyChain(path)).toMatchObject({ ok: false, code: 'not-utf8', line: 2 })
  })

  it('tells an edited (still canonical) record apart from a non-canonical one', async () => {
    const r = await variant(lines[1].replace('SELECT 2', 'SELECT 3'))
    expect(r).toMatchObject({
      ok: false,
      code: 'edited',
      seq: 2,
      reason: 'hash does not match the record (edited)',
    })
  })

  it('applies the same check to memorySink lines (verifyLines)', () => {
    expect(verifyLines([lines[0], lines[1].replace('"seq":2,', '"seq":2.0,')])).toMatchObject({
      ok: false,
      code: 'not-canonical',
      line: 2,
    })
  })
})

describe('verifyChain: pino log files', () => {
  it('checks the records a pino log carries under audit, skipping other lines', async () => {
    const { lines, hashes } = commands(4)
    const pinoLine = (l: string, level: number) =>
      JSON.stringify({
        level,
        time: 1767225600000,
        pid: 1,
        hostname: 'h',
        audit: JSON.parse(l),
        msg: 'warden.audit',
      })
    const out = [
      JSON.stringify({ level: 30, time: 1, msg: 'app started' }),
      ...lines.map((l, i) => pinoLine(l, i === 2 ? 40 : 30)),
    ]
    const path = file(out)
    expect(await verifyChain(path, { format: 'pino' })).toMatchObject({
      ok: true,
      count: 4,
      head: { seq: 4, hash: hashes[3] },
    })
    // As JSONL the first line is no record at all.
    expect(await verifyChain(path)).toMatchObject({ ok: false, code: 'no-seq' })
    const edited = [...out]
    edited[3] = edited[3].replace('SELECT 3', 'SELECT 4')
    expect(await verifyChain(file(edited), { format: 'pino' })).toMatchObject({
      ok: false,
      code: 'edited',
      seq: 3,
      line: 4,
    })
  })
})

it('appending after a torn line does not verify (the glued line is not JSON)', async () => {
  const { lines } = commands(3)
  const path = join(dir, 'glued.jsonl')
  writeFileSync(path, `${lines[0]}\n${lines[1].slice(0, 40)}`)
  appendFileSync(path, `${lines[2]}\n`)
  expect(await verifyChain(path)).toMatchObject({ ok: false, code: 'not-json', line: 2 })
  expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(3)
})
