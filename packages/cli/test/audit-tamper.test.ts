// `warden audit verify` against each attack on a real log (createWarden + jsonlSink) and its
// signed checkpoints: the exit code and the named problem for each.
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { type Checkpoint, createCheckpointer, fileCheckpoints } from '@warden/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sealRecord } from '../../core/src/internal/audit-chain.js'
import { RECORDED_POLICY, recordAuditLog } from './fixtures.js'
import { runWarden, SUBPROCESS_TIMEOUT, tempDir } from './helpers.js'

const tmp = tempDir('tamper')
const policy = tmp.write('policy.yaml', RECORDED_POLICY)
const log = `${tmp.dir}/audit.jsonl`
const cpFile = `${tmp.dir}/audit.checkpoints`
const key = `${tmp.dir}/writer`
let lines: string[]
let records: Record<string, unknown>[]

/** The checkpoints a writer emits for `hashes`: every 3 records, and close. */
async function writeCheckpoints(path: string, hashes: readonly string[], privateKey: string): Promise<void> {
  const cp = createCheckpointer({ key: privateKey, store: fileCheckpoints(path), every: 3 })
  for (let i = 0; i < hashes.length; i++) {
    cp.written(i + 1, hashes[i])
    await cp.settled()
  }
  await cp.close(hashes.length, hashes[hashes.length - 1])
}

beforeAll(async () => {
  await recordAuditLog(log, policy)
  const gen = await runWarden(['audit', 'keygen', '--out', key])
  expect(gen.code).toBe(0)
  lines = readFileSync(log, 'utf8').trimEnd().split('\n')
  records = lines.map((l) => JSON.parse(l))
  await writeCheckpoints(
    cpFile,
    records.map((r) => r.hash as string),
    readFileSync(`${key}.key`, 'utf8'),
  )
}, SUBPROCESS_TIMEOUT)
afterAll(() => tmp.remove())

const write = (name: string, out: readonly string[]) => tmp.write(name, `${out.join('\n')}\n`)
const verify = (file: string, ...extra: string[]) =>
  runWarden(['audit', 'verify', '--checkpoints', cpFile, '--public-key', `${key}.pub`, ...extra, file])

/** The same record with its first key moved to the end (keys out of order). */
function moveFirstKeyLast(line: string): string {
  const rec = JSON.parse(line)
  const [first, ...rest] = Object.keys(rec)
  return JSON.stringify(Object.fromEntries([...rest.map((k) => [k, rec[k]]), [first, rec[first]]]))
}

/** Seals records[from..] again after a change, as an attacker without the key can. */
function rechain(recs: Record<string, unknown>[], from: number): string[] {
  const out = lines.slice(0, from)
  let prev = from === 0 ? (recs[0].prev as string) : (JSON.parse(out[from - 1]).hash as string)
  for (let i = from; i < recs.length; i++) {
    const { hash, line } = sealRecord({ ...recs[i], seq: i + 1, prev })
    out.push(line)
    prev = hash
  }
  return out
}

describe('warden audit keygen', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('writes a private key only its owner can read and a public key, and never overwrites by accident', async () => {
    expect(statSync(`${key}.key`).mode & 0o777).toBe(0o600)
    expect(readFileSync(`${key}.key`, 'utf8')).toContain('BEGIN PRIVATE KEY')
    expect(readFileSync(`${key}.pub`, 'utf8')).toContain('BEGIN PUBLIC KEY')
    const again = await runWarden(['audit', 'keygen', '--out', key])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('exists (use --force to replace it)')
    const other = `${tmp.dir}/other`
    const first = await runWarden(['audit', 'keygen', '--out', other])
    expect(first.stdout).toMatch(/key id ed25519:[0-9a-f]{16}\n$/)
    const forced = await runWarden(['audit', 'keygen', '--out', other, '--force'])
    expect(forced.code).toBe(0)
    expect(readFileSync(`${other}.key`, 'utf8')).not.toBe('')
  })
})

describe('warden audit verify with checkpoints', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('an intact log: exit 0, every checkpoint verified, closed', async () => {
    const r = await verify(log)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`${lines.length} records, chain intact`)
    expect(r.stdout).toMatch(/\d+ checkpoints verified, the log is vouched for up to seq \d+ \(closed\)/)
    expect(r.stdout).not.toContain('not covered')
  })

  it('reads the public key from stdin with --public-key -; stdin carries one input', async () => {
    const args = ['audit', 'verify', '--checkpoints', cpFile, '--public-key', '-']
    const r = await runWarden([...args, log], {}, readFileSync(`${key}.pub`, 'utf8'))
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/\d+ checkpoints verified/)
    const both = await runWarden([...args, '-'])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('stdin ("-") can carry one input')
  })

  it('truncation: exit 1, "truncated"', async () => {
    const r = await verify(write('truncated.jsonl', lines.slice(0, -2)))
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      /: truncated: the log ends at seq \d+, but checkpoint "close" .* were removed \(truncated\)/,
    )
  })

  it('deletion + re-chain: exit 1, "rewritten"', async () => {
    const kept = records.filter((_, i) => i !== 1)
    const r = await verify(write('deleted.jsonl', rechain(kept, 1)))
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/seq 3: rewritten: seq 3 is not the record checkpoint "count" .* vouches for/)
  })

  it('edit + re-chain of the tail: exit 1, "rewritten"', async () => {
    const edited = records.map((r, i) =>
      i === records.length - 2 ? { ...r, time: '2020-01-01T00:00:00.000Z' } : r,
    )
    const r = await verify(write('edit-rechain.jsonl', rechain(edited, records.length - 2)))
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(': rewritten: ')
  })

  it('a forged append after close: exit 1, "forged append"', async () => {
    const last = records[records.length - 1]
    const forged = sealRecord({
      ...records[1],
      id: 'forged',
      seq: records.length + 1,
      prev: last.hash,
      approval: { id: 'a1', status: 'approved', by: 'alice' },
    }).line
    const file = write('forged.jsonl', [...lines, forged])
    expect((await runWarden(['audit', 'verify', file])).code).toBe(0)
    const r = await verify(file)
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`seq ${records.length + 1}: forged append: `)
  })

  it('a duplicate-key line: exit 1, "duplicate key"', async () => {
    const dup = [...lines]
    dup[1] = dup[1].replace('"command":', '"command":"DROP TABLE customers","command":')
    const r = await verify(write('dup.jsonl', dup))
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/dup\.jsonl:2: seq 2: duplicate key: duplicate key "command"/)
  })

  it.each([
    ['whitespace', (l: string) => l.replace(',"id":', ', "id":')],
    ['key order', (l: string) => moveFirstKeyLast(l)],
    ['a number form', (l: string) => l.replace('"seq":2,', '"seq":2.00,')],
  ])('a non-canonical line (%s): exit 1, "not canonical"', async (name, edit) => {
    const out = [...lines]
    out[1] = edit(out[1])
    expect(out[1]).not.toBe(lines[1])
    expect(JSON.parse(out[1])).toEqual(JSON.parse(lines[1]))
    const r = await verify(write(`noncanonical-${name.replace(/ /g, '-')}.jsonl`, out))
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/:2: seq 2: not canonical: line is not in canonical form/)
  })

  it('a bad signature: exit 1, "bad checkpoint signature"', async () => {
    const cps = readFileSync(cpFile, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Checkpoint)
    const altered = cps.map((c, i) =>
      i === cps.length - 1 ? { ...c, seq: c.seq - 2, hash: records[c.seq - 3].hash } : c,
    )
    const file = tmp.write('altered.checkpoints', `${altered.map((c) => JSON.stringify(c)).join('\n')}\n`)
    const r = await runWarden(['audit', 'verify', '--checkpoints', file, '--public-key', `${key}.pub`, log])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('bad checkpoint signature: ')
    expect(r.stdout).toContain('forged or altered')
  })

  it('the wrong key: exit 1, "wrong key"', async () => {
    const wrong = `${tmp.dir}/wrong`
    await runWarden(['audit', 'keygen', '--out', wrong])
    const r = await runWarden([
      'audit',
      'verify',
      '--checkpoints',
      cpFile,
      '--public-key',
      `${wrong}.pub`,
      log,
    ])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      /wrong key: .* is signed by key ed25519:[0-9a-f]{16}, not by the public key given/,
    )
  })

  it('--json carries the problem code', async () => {
    const r = await verify(write('truncated-json.jsonl', lines.slice(0, -1)), '--json')
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: 'truncated' })
  })

  it('counts the records no checkpoint covers yet', async () => {
    const liveCps = `${tmp.dir}/live.checkpoints`
    const cp = createCheckpointer({
      key: readFileSync(`${key}.key`, 'utf8'),
      store: fileCheckpoints(liveCps),
      every: 3,
    })
    for (let i = 0; i < 4; i++) {
      cp.written(i + 1, records[i].hash as string)
      await cp.settled()
    }
    const r = await runWarden([
      'audit',
      'verify',
      '--checkpoints',
      liveCps,
      '--public-key',
      `${key}.pub`,
      log,
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(
      `note: the last ${lines.length - 3} records are not covered by a checkpoint yet`,
    )
  })
})

describe('warden audit verify: segments, suffixes, torn files, bad input', {
  timeout: SUBPROCESS_TIMEOUT,
}, () => {
  it('verifies rotated segments as one chain, given in order or found with --segments', async () => {
    const base = `${tmp.dir}/rot.jsonl`
    write('rot.jsonl.000001', lines.slice(0, 3))
    write('rot.jsonl.000002', lines.slice(3, 6))
    write('rot.jsonl', lines.slice(6))
    const r = await runWarden(['audit', 'verify', '--segments', base])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`(3 files): ${lines.length} records, chain intact`)
    const swapped = await runWarden(['audit', 'verify', `${base}.000002`, `${base}.000001`, base])
    expect(swapped.code).toBe(1)
    expect(swapped.stdout).toContain('rot.jsonl.000002:1: seq 4: record missing')
    const withCps = await verify(base, '--segments')
    expect(withCps.code).toBe(0)
  })

  it('verifies a suffix from --start SEQ:HASH', async () => {
    const suffix = write('suffix.jsonl', lines.slice(3))
    const r = await runWarden(['audit', 'verify', '--start', `3:${records[2].hash}`, suffix])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`${lines.length - 3} records, chain intact`)
    const bad = await runWarden(['audit', 'verify', '--start', `3:${records[1].hash}`, suffix])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toContain('does not continue the start')
  })

  it('verifies a pino log with --pino (records under "audit", other lines skipped)', async () => {
    const pinoLines = [
      JSON.stringify({ level: 30, time: 1, msg: 'app started' }),
      ...records.map((r) => JSON.stringify({ level: 30, time: 2, audit: r, msg: 'warden.audit' })),
    ]
    const file = write('app.log', pinoLines)
    const r = await runWarden(['audit', 'verify', '--pino', file])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`${records.length} records, chain intact`)
    pinoLines[2] = pinoLines[2].replace('"seq":2,', '"seq":2,"extra":1,')
    const bad = await runWarden(['audit', 'verify', '--pino', write('app-edited.log', pinoLines)])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toContain('app-edited.log:3: seq 2: edited')
  })

  it('a missing final newline is torn (exit 1) unless --live', async () => {
    const torn = `${tmp.dir}/torn.jsonl`
    writeFileSync(torn, `${lines.join('\n')}`)
    const r = await runWarden(['audit', 'verify', torn])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/: torn: the last line \(\d+ bytes\) has no final newline/)
    const live = await runWarden(['audit', 'verify', '--live', torn])
    expect(live.code).toBe(0)
    expect(live.stdout).toMatch(/note: an unfinished last line \(\d+ bytes\) was not verified/)
  })

  it('exit 2: checkpoints without a key, an unreadable key or checkpoints file, a bad --start', async () => {
    const noKey = await runWarden(['audit', 'verify', '--checkpoints', cpFile, log])
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain('--checkpoints and --public-key go together')
    const missingKey = await runWarden([
      'audit',
      'verify',
      '--checkpoints',
      cpFile,
      '--public-key',
      `${tmp.dir}/nope.pub`,
      log,
    ])
    expect(missingKey.code).toBe(2)
    expect(missingKey.stderr).toContain('cannot read public key')
    const notKey = await runWarden(['audit', 'verify', '--checkpoints', cpFile, '--public-key', policy, log])
    expect(notKey.code).toBe(2)
    expect(notKey.stderr).toContain('not an SPKI PEM public key')
    const missingCps = await runWarden([
      'audit',
      'verify',
      '--checkpoints',
      `${tmp.dir}/nope.cp`,
      '--public-key',
      `${key}.pub`,
      log,
    ])
    expect(missingCps.code).toBe(2)
    expect(missingCps.stderr).toContain('cannot read checkpoints file')
    const start = await runWarden(['audit', 'verify', '--start', '3', log])
    expect(start.code).toBe(2)
    expect(start.stderr).toContain('--start must be SEQ:HASH')
  })
})
