// Audit sink faults, as documented in packages/core/README.md ("Failure modes"): a full/slow sink
// makes commands wait (never drops a record); a failed sink fails closed (ERR_WARDEN_AUDIT before
// the command runs, or the result withheld when recording it throws); a background write error
// (disk full) fails the next command; `fail-open` is explicit and marked on every record.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type AuditRecord,
  type AuditSink,
  type Command,
  createWarden,
  jsonlSink,
  verifyChain,
  WardenError,
} from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { afterAll, describe, expect, it } from 'vitest'

const POLICY = compilePolicy('defaults: { effect: allow }\nrules: []\n')
const dir = mkdtempSync(join(tmpdir(), 'warden-rel-audit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cmd = (i: number): Command => ({
  resource: { kind: 'http', name: 'api' },
  action: 'http.request',
  text: `GET https://api.internal/items/${i}`,
})
const settle = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ value }) as { value: T; error?: undefined },
    (error: unknown) => ({ error }) as { value?: undefined; error: unknown },
  )
const code = (e: unknown) => (e instanceof WardenError ? e.code : `not a WardenError: ${String(e)}`)

/** A sink whose buffer is "full" until the test opens the gate: write() returns false, flush() waits. */
function gatedSink() {
  const lines: string[] = []
  let open!: () => void
  let gate = new Promise<void>((r) => {
    open = r
  })
  let flushes = 0
  let full = false
  const sink: AuditSink & { lines: string[]; fill(): void; open(): void; readonly flushes: number } = {
    lines,
    write(line) {
      lines.push(line)
      return !full
    },
    async flush() {
      if (!full) return
      flushes++
      await gate
    },
    fill() {
      full = true
    },
    close: async () => {},
    open() {
      full = false
      open()
      gate = Promise.resolve()
    },
    get flushes() {
      return flushes
    },
  }
  return sink
}

describe('slow or full sink: commands wait, nothing is dropped', () => {
  it('no command returns before its record is stored; all records arrive, in one verified chain', async () => {
    const sink = gatedSink()
    const warden = createWarden({ policy: POLICY, audit: sink })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    sink.fill()
    let ran = 0
    let returned = 0
    const all = Array.from({ length: 64 }, (_, i) =>
      session
        .execute(cmd(i), () => ++ran)
        .then((v) => {
          returned++
          return v
        }),
    )
    while (sink.flushes === 0 || ran < 64) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, 50))
    expect(returned).toBe(0) // every command ran and is held until its record is stored
    sink.open()
    await Promise.all(all)
    expect(returned).toBe(64)
    await warden.close()
    const file = join(dir, 'gated.jsonl')
    writeFileSync(file, `${sink.lines.join('\n')}\n`)
    const chain = await verifyChain(file)
    expect(chain).toMatchObject({ ok: true })
    const records = sink.lines.map((l) => JSON.parse(l) as AuditRecord).filter((r) => r.type === 'command')
    expect(records.map((r) => r.command).sort()).toEqual(
      Array.from({ length: 64 }, (_, i) => cmd(i).text).sort(),
    )
  })

  it('jsonlSink with a tiny buffer and fsync per record under 32-way concurrency: one record per command', async () => {
    const file = join(dir, 'tiny.jsonl')
    const warden = createWarden({
      policy: POLICY,
      audit: jsonlSink(file, { fsync: 'always', highWaterMark: 1 }),
    })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    const N = 600
    let next = 0
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < N) {
          const i = next++
          await session.execute(cmd(i), () => i)
        }
      }),
    )
    await warden.close()
    expect(await verifyChain(file)).toMatchObject({ ok: true })
    const commands = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord)
      .filter((r) => r.type === 'command')
    expect(commands.length).toBe(N)
    expect(new Set(commands.map((r) => r.command)).size).toBe(N)
  })
})

describe('failing sink: fail closed', () => {
  it('a failed sink refuses commands before they run, and new sessions', async () => {
    const sink = memorySink()
    const warden = createWarden({ policy: POLICY, audit: sink })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    await session.execute(cmd(0), () => 0)
    sink.fail(new Error('EIO: disk on fire'))
    let ran = 0
    const r = await settle(session.execute(cmd(1), () => ++ran))
    expect(code(r.error)).toBe('ERR_WARDEN_AUDIT')
    expect(ran).toBe(0)
    const s = await settle(warden.session({ principal: { id: 'other', type: 'service' } }))
    expect(code(s.error)).toBe('ERR_WARDEN_AUDIT')
    await warden.close().catch(() => {})
  })

  it('a sink that throws while recording a command withholds that command’s result', async () => {
    let throwing = false
    const lines: string[] = []
    const sink: AuditSink = {
      write(line) {
        if (throwing) throw new Error('ENOSPC: no space left on device')
        lines.push(line)
        return true
      },
      flush: async () => {},
      close: async () => {},
    }
    const warden = createWarden({ policy: POLICY, audit: sink })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    throwing = true
    let ran = 0
    const r = await settle(session.execute(cmd(1), () => `secret result ${++ran}`))
    expect(ran).toBe(1)
    expect(r.value).toBeUndefined()
    expect(code(r.error)).toBe('ERR_WARDEN_AUDIT')
    await warden.close().catch(() => {})
  })

  it('a background write error (disk full: /dev/full) fails the next command', async () => {
    const warden = createWarden({ policy: POLICY, audit: jsonlSink('/dev/full', { fsync: 'none' }) })
    const opened = await settle(warden.session({ principal: { id: 'svc', type: 'service' } }))
    let ran = 0
    let refused: unknown
    const session = opened.value
    if (session === undefined) refused = opened.error
    else {
      // The first record is queued; its write fails in the background; a later command is refused.
      for (let i = 0; i < 50 && refused === undefined; i++) {
        const r = await settle(session.execute(cmd(i), () => ++ran))
        refused = r.error
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    expect(code(refused)).toBe('ERR_WARDEN_AUDIT')
    const before = ran
    if (opened.value) {
      const again = await settle(opened.value.execute(cmd(99), () => ++ran))
      expect(code(again.error)).toBe('ERR_WARDEN_AUDIT')
      expect(ran).toBe(before)
    }
    await warden.close().catch(() => {})
  })

  it('fail-open is explicit: commands continue and every later record says so', async () => {
    let failing = false
    const stored: AuditRecord[] = []
    const primary = memorySink()
    const mirror: AuditSink = {
      write(_line, record) {
        stored.push(record)
        return true
      },
      flush: async () => {},
      close: async () => {},
    }
    const failingSink: AuditSink = {
      write(line, record) {
        if (failing) throw new Error('EIO')
        return primary.write(line, record)
      },
      flush: async () => {},
      close: async () => {},
      failure: () => (failing ? new Error('EIO') : undefined),
    }
    const warning = new Promise<Error>((resolve) => process.once('warning', resolve))
    const warden = createWarden({ policy: POLICY, audit: [failingSink, mirror], auditFailure: 'fail-open' })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    failing = true
    expect(await session.execute(cmd(1), () => 'ran')).toBe('ran')
    expect(String((await warning).message)).toMatch(/audit/i)
    const last = stored.filter((r) => r.type === 'command').at(-1) as AuditRecord & { auditFailure?: string }
    expect(last.command).toBe(cmd(1).text)
    expect(last.auditFailure).toBe('fail-open')
    await warden.close().catch(() => {})
  })
})
