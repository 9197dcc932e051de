// jsonlSink with signed checkpoints, end to end: a Warden writes across restarts, and the log with
// its checkpoints verifies; cut short, re-chained or appended to after close, it does not.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Command,
  createWarden,
  fileCheckpoints,
  generateCheckpointKeys,
  jsonlSink,
  readCheckpoints,
  verifyChain,
} from '@warden/core'
import { compilePolicy } from '@warden/policy'
import { afterAll, describe, expect, it } from 'vitest'
import { sealRecord } from '../../src/internal/audit-chain.js'

const dir = mkdtempSync(join(tmpdir(), 'warden-jsonl-cp-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const keys = generateCheckpointKeys()
const policy = compilePolicy('defaults: { effect: allow }\nrules: []')
const cmd = (i: number): Command => ({
  resource: { kind: 'tool', name: 't' },
  action: 'tool.call',
  text: `call ${i}`,
})
let n = 0

async function run(path: string, checkpoints: string, count: number) {
  const audit = jsonlSink(path, {
    checkpoints: { key: keys.privateKey, store: fileCheckpoints(checkpoints), every: 4 },
  })
  const warden = createWarden({ policy, audit, signals: false })
  const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
  for (let i = 0; i < count; i++) await session.execute(cmd(i), () => i)
  await warden.close()
}

async function writtenLog() {
  const path = join(dir, `audit-${++n}.jsonl`)
  const checkpoints = `${path}.checkpoints`
  await run(path, checkpoints, 5)
  await run(path, checkpoints, 3)
  return { path, checkpoints, lines: readFileSync(path, 'utf8').trimEnd().split('\n') }
}

const verify = (path: string, checkpoints: string) =>
  verifyChain(path, { checkpoints, publicKey: keys.publicKey })

describe('jsonlSink checkpoints', () => {
  it('counts, a close per writer and an open when it is reopened; the log verifies with them', async () => {
    const { path, checkpoints, lines } = await writtenLog()
    const cps = await readCheckpoints(checkpoints)
    expect(cps.map((c) => c.reason)).toContain('open')
    expect(cps.filter((c) => c.reason === 'close')).toHaveLength(2)
    expect(cps.at(-1)).toMatchObject({ reason: 'close', seq: lines.length })
    // the open checkpoint names the head the first writer closed on
    const open = cps.find((c) => c.reason === 'open')
    const firstClose = cps.find((c) => c.reason === 'close')
    expect(open).toMatchObject({ seq: firstClose?.seq, hash: firstClose?.hash })
    expect(await verify(path, checkpoints)).toMatchObject({ ok: true, count: lines.length })
  })

  it('a log cut short after its close is detected', async () => {
    const { path, checkpoints, lines } = await writtenLog()
    writeFileSync(path, `${lines.slice(0, -3).join('\n')}\n`)
    expect(await verify(path, checkpoints)).toMatchObject({ ok: false, code: 'truncated' })
  })

  it('a tail edited and re-chained is detected', async () => {
    const { path, checkpoints, lines } = await writtenLog()
    // Re-seal the last three records with an edit: the chain alone verifies, the checkpoint does not.
    const kept = lines.slice(0, -3)
    let prev = JSON.parse(kept[kept.length - 1]).hash as string
    const forged = lines.slice(-3).map((l) => {
      const rec = JSON.parse(l)
      if (rec.type === 'command') rec.command = 'call forged'
      rec.prev = prev
      const { hash, line } = sealRecord({ ...rec, hash: '' })
      prev = hash
      return line
    })
    writeFileSync(path, `${[...kept, ...forged].join('\n')}\n`)
    expect(await verifyChain(path)).toMatchObject({ ok: true })
    expect(await verify(path, checkpoints)).toMatchObject({ ok: false, code: 'rewritten' })
  })

  it('a record appended after the last close, well chained, is detected', async () => {
    const { path, checkpoints, lines } = await writtenLog()
    const last = JSON.parse(lines[lines.length - 1])
    const { line } = sealRecord({
      v: 1,
      id: 'forged',
      time: new Date().toISOString(),
      seq: last.seq + 1,
      session: last.session,
      prev: last.hash,
      hash: '',
      type: 'command',
      principal: { id: 'alice', type: 'user', groups: [] },
      approval: { id: 'x', status: 'approved', by: 'alice' },
      command: 'DROP TABLE customers',
    })
    appendFileSync(path, `${line}\n`)
    expect(await verifyChain(path)).toMatchObject({ ok: true })
    expect(await verify(path, checkpoints)).toMatchObject({ ok: false, code: 'forged-append' })
  })

  it('a checkpoint store that fails makes the sink fail closed', async () => {
    const path = join(dir, `audit-${++n}.jsonl`)
    let calls = 0
    const audit = jsonlSink(path, {
      fsync: 'none',
      checkpoints: {
        key: keys.privateKey,
        every: 2,
        store: {
          append: async () => {
            calls++
            throw new Error('checkpoint store down')
          },
        },
      },
    })
    const warden = createWarden({ policy, audit, signals: false })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    // The store's failure reaches the sink: a command whose outcome could not be recorded is told
    // it ran; the next is refused before it runs.
    const codes: string[] = []
    let ran = 0
    for (let i = 0; i < 10 && !codes.includes('ERR_WARDEN_AUDIT'); i++) {
      await session
        .execute(cmd(i), () => ++ran)
        .catch((err) => {
          codes.push(err.code)
          expect(err.message).toMatch(/checkpoint store down/)
        })
    }
    expect(calls).toBeGreaterThan(0)
    expect(codes.at(-1)).toBe('ERR_WARDEN_AUDIT')
    const before = ran
    await expect(session.execute(cmd(99), () => ++ran)).rejects.toMatchObject({ code: 'ERR_WARDEN_AUDIT' })
    expect(ran).toBe(before)
    await warden.close().catch(() => {})
  })
})
