// Audit sink faults, as documented in packages/core/README.md ("Failure modes"): a slow sink makes
// commands wait (a command runs only once its command record is stored, returns only once its
// outcome is; never drops a record); a failed sink fails closed (ERR_WARDEN_AUDIT before the
// command runs; ERR_WARDEN_RAN_UNRECORDED, result withheld, when only its outcome could not be
// stored); disk full fails closed; `fail-open` is explicit and marked on every record.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type AuditEntry,
  type AuditRecord,
  type AuditSink,
  type Command,
  createWarden,
  jsonlSink,
  readAudit,
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

/** A sink that stores on flush(); while held, every flush waits until the test releases it. */
function gatedSink() {
  const lines: string[] = []
  let gate: { promise: Promise<void>; resolve: () => void } | undefined
  let flushes = 0
  const sink: AuditSink & { lines: string[]; hold(): void; release(): void; readonly flushes: number } = {
    lines,
    write(line) {
      lines.push(line)
      return true
    },
    flush() {
      flushes++
      return gate?.promise ?? Promise.resolve()
    },
    close: async () => {},
    hold() {
      if (gate !== undefined) return
      let resolve!: () => void
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      gate = { promise, resolve }
    },
    release() {
      gate?.resolve()
      gate = undefined
    },
    get flushes() {
      return flushes
    },
  }
  return sink
}

describe('slow sink: the record comes first, nothing is dropped', () => {
  it('no command runs before its command record is stored, none returns before its outcome is; one verified chain', async () => {
    const sink = gatedSink()
    const warden = createWarden({ policy: POLICY, audit: sink })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    sink.hold()
    const flushesBefore = sink.flushes
    let ran = 0
    let returned = 0
    let allRan!: () => void
    const everyoneRan = new Promise<void>((r) => {
      allRan = r
    })
    const all = Array.from({ length: 64 }, (_, i) =>
      session
        .execute(cmd(i), () => {
          // from here on, the outcome records wait too
          sink.hold()
          if (++ran === 64) allRan()
          return i
        })
        .then((v) => {
          returned++
          return v
        }),
    )
    // every command record was written and is waiting to be stored: nothing has run
    expect(sink.flushes - flushesBefore).toBe(64)
    await new Promise((r) => setImmediate(r))
    expect(ran).toBe(0)
    sink.release()
    await everyoneRan
    await new Promise((r) => setImmediate(r))
    expect(returned).toBe(0) // every command ran and its result is held until its outcome is stored
    sink.release()
    expect(await Promise.all(all)).toEqual(Array.from({ length: 64 }, (_, i) => i))
    expect(returned).toBe(64)
    await warden.close()
    const file = join(dir, 'gated.jsonl')
    writeFileSync(file, `${sink.lines.join('\n')}\n`)
    expect(await verifyChain(file)).toMatchObject({ ok: true, count: 2 + 64 * 2 })
    const entries = sink.lines.map((l) => JSON.parse(l) as AuditEntry)
    const commands = entries.filter((r) => r.type === 'command') as AuditRecord[]
    expect(commands.map((r) => r.command).sort()).toEqual(
      Array.from({ length: 64 }, (_, i) => cmd(i).text).sort(),
    )
    const outcomes = entries.filter((r) => r.type === 'outcome')
    expect(new Set(outcomes.map((r) => (r as { of: string }).of))).toEqual(new Set(commands.map((r) => r.id)))
  })

  it('jsonlSink with fsync per record under 32-way concurrency: a command record and an outcome per command', async () => {
    const file = join(dir, 'tiny.jsonl')
    const warden = createWarden({ policy: POLICY, audit: jsonlSink(file, { fsync: 'always' }) })
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
    const commands: AuditRecord[] = []
    for await (const r of readAudit(file)) if (r.type === 'command') commands.push(r)
    expect(commands.length).toBe(N)
    expect(new Set(commands.map((r) => r.command)).size).toBe(N)
    expect(commands.every((r) => r.outcome?.status === 'ok')).toBe(true)
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

  const throwingSink = () => {
    const state = { throwing: false, lines: [] as string[] }
    const sink: AuditSink = {
      write(line) {
        if (state.throwing) throw new Error('ENOSPC: no space left on device')
        state.lines.push(line)
        return true
      },
      flush: async () => {},
      close: async () => {},
    }
    return { sink, state }
  }

  it('a sink that throws on a command record refuses the command before it runs', async () => {
    const { sink, state } = throwingSink()
    const warden = createWarden({ policy: POLICY, audit: sink })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    state.throwing = true
    let ran = 0
    const r = await settle(session.execute(cmd(1), () => `secret result ${++ran}`))
    expect(ran).toBe(0)
    expect(code(r.error)).toBe('ERR_WARDEN_AUDIT')
    await warden.close().catch(() => {})
  })

  it('a sink that throws on an outcome record withholds the result, with a code that says the command ran', async () => {
    const { sink, state } = throwingSink()
    const warden = createWarden({ policy: POLICY, audit: sink })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    let ran = 0
    const r = await settle(
      session.execute(cmd(1), () => {
        state.throwing = true
        return `secret result ${++ran}`
      }),
    )
    expect(ran).toBe(1)
    expect(r.value).toBeUndefined()
    expect(code(r.error)).toBe('ERR_WARDEN_RAN_UNRECORDED')
    expect(String((r.error as Error).message)).not.toContain('secret result')
    // its command record is on the chain; nothing runs any more
    expect(JSON.parse(state.lines[state.lines.length - 1])).toMatchObject({
      type: 'command',
      command: cmd(1).text,
    })
    const again = await settle(session.execute(cmd(2), () => ++ran))
    expect(code(again.error)).toBe('ERR_WARDEN_AUDIT')
    expect(ran).toBe(1)
    await warden.close().catch(() => {})
  })

  it('a background write error (disk full: /dev/full) fails the next command', async () => {
    // /dev/full answers every write with ENOSPC; a link to it keeps the lock file in our folder
    const full = join(dir, 'full.jsonl')
    symlinkSync('/dev/full', full)
    const warden = createWarden({ policy: POLICY, audit: jsonlSink(full, { fsync: 'none' }) })
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
