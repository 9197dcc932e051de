// A command whose output streams ends when its stream ends (context.stream()): the result is
// released at once, the outcome record is stored at the end, and the end waits for that record.
import { type Command, createWarden, type ExecuteContext, WardenError } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const policy = compilePolicy(`
rules:
  - name: all
    when: 'true'
    effect: allow
masks:
  - name: keys
    detectors: [aws_access_key]
    strategy: redact
`)
const command: Command = { resource: { kind: 'http', name: 'api' }, action: 'http.request', text: 'GET /x' }
const KEY = 'AKIAIOSFODNN7EXAMPLE'

async function open() {
  const audit = memorySink()
  const warden = createWarden({ policy, audit, signals: false })
  const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
  return { audit, warden, session }
}

const outcomeOf = (audit: ReturnType<typeof memorySink>) =>
  audit.entries.filter((e) => e.type === 'outcome') as {
    outcome: Record<string, unknown>
    masked?: unknown
  }[]

describe('context.stream()', () => {
  it('releases the result at once and records the outcome when the stream ends, with counts and masks', async () => {
    const { audit, warden, session } = await open()
    let handle: ReturnType<ExecuteContext['stream']> | undefined
    const result = await session.execute(command, (context) => {
      handle = context.stream()
      return 'headers'
    })
    expect(result).toBe('headers')
    // Released before its end: the command record exists, its outcome does not yet.
    expect(outcomeOf(audit)).toHaveLength(0)
    const stream = handle!
    stream.bytes(10)
    stream.rows(2)
    stream.bytes(5)
    await stream.end()
    const [outcome] = outcomeOf(audit)
    expect(outcome.outcome).toMatchObject({ status: 'ok', bytes: 15, rows: 2 })
    expect(audit.records.at(-1)?.outcome?.status).toBe('ok')
    expect(audit.verify().ok).toBe(true)
    await warden.close()
  })

  it('counts masks applied while streaming in the outcome', async () => {
    const { audit, warden, session } = await open()
    let handle: ReturnType<ExecuteContext['stream']> | undefined
    let context: ExecuteContext | undefined
    await session.execute(command, (c) => {
      context = c
      handle = c.stream()
    })
    expect(context!.masker!.text(`key ${KEY}`)).not.toContain(KEY)
    await handle!.end()
    expect(outcomeOf(audit)[0].masked).toEqual([{ column: '(text)', strategy: 'redact', count: 1 }])
    await warden.close()
  })

  it('measures the duration to the end of the stream, not to the return of run', async () => {
    const { audit, warden, session } = await open()
    let handle: ReturnType<ExecuteContext['stream']> | undefined
    await session.execute(command, (c) => {
      handle = c.stream()
    })
    const returned = performance.now()
    // The stream stays open across a few turns of the event loop (I/O phases, not timers).
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
    const held = performance.now() - returned
    await handle!.end()
    // Started before `returned`: the recorded duration covers at least the time it stayed open.
    expect(outcomeOf(audit)[0].outcome.ms as number).toBeGreaterThanOrEqual(Math.floor(held * 1000) / 1000)
    await warden.close()
  })

  it('records a late error, masked, with its code', async () => {
    const { audit, warden, session } = await open()
    let handle: ReturnType<ExecuteContext['stream']> | undefined
    await session.execute(command, (c) => {
      handle = c.stream()
    })
    handle!.bytes(3)
    await handle!.end(Object.assign(new Error(`connection reset after ${KEY}`), { code: 'ECONNRESET' }))
    const [outcome] = outcomeOf(audit)
    expect(outcome.outcome).toMatchObject({ status: 'error', code: 'ECONNRESET', bytes: 3 })
    expect(outcome.outcome.error).toContain('connection reset')
    expect(JSON.stringify(audit.lines)).not.toContain(KEY)
    await warden.close()
  })

  it('records an abandoned stream as ok and cancelled; the first end wins', async () => {
    const { audit, warden, session } = await open()
    let handle: ReturnType<ExecuteContext['stream']> | undefined
    await session.execute(command, (c) => {
      handle = c.stream()
    })
    await handle!.cancel()
    await handle!.end(new Error('late'))
    const outcomes = outcomeOf(audit)
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0].outcome).toMatchObject({ status: 'ok', cancelled: true })
    await warden.close()
  })

  it('does not let the end through before the outcome record is stored', async () => {
    const { audit, warden, session } = await open()
    let handle: ReturnType<ExecuteContext['stream']> | undefined
    await session.execute(command, (c) => {
      handle = c.stream()
    })
    const release = audit.hold()
    let ended = false
    const end = handle!.end().then(() => {
      ended = true
    })
    // Written but not stored: the end is held for as long as the sink holds it.
    for (let i = 0; i < 20; i++) await Promise.resolve()
    expect(outcomeOf(audit)).toHaveLength(1)
    expect(ended).toBe(false)
    release()
    await end
    expect(ended).toBe(true)
    await warden.close()
  })

  it('errors the end with ERR_WARDEN_RAN_UNRECORDED when the outcome cannot be stored', async () => {
    const { audit, warden, session } = await open()
    let handle: ReturnType<ExecuteContext['stream']> | undefined
    await session.execute(command, (c) => {
      handle = c.stream()
    })
    const release = audit.hold()
    const end = handle!.end()
    release(new Error('disk full'))
    await expect(end).rejects.toMatchObject({ code: 'ERR_WARDEN_RAN_UNRECORDED' })
    await expect(end).rejects.toBeInstanceOf(WardenError)
    await warden.close().catch(() => {})
  })

  it('refuses a stream handed over after run returned', async () => {
    const { audit, warden, session } = await open()
    let context: ExecuteContext | undefined
    await session.execute(command, (c) => {
      context = c
    })
    expect(() => context!.stream()).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }))
    expect(outcomeOf(audit)).toHaveLength(1)
    await warden.close()
  })

  it('closing the session ends a stream nobody finished, as cancelled, before the session is closed', async () => {
    const { audit, warden, session } = await open()
    let handle: ReturnType<ExecuteContext['stream']> | undefined
    await session.execute(command, (c) => {
      handle = c.stream()
    })
    handle!.bytes(7)
    await session.close()
    const types = audit.entries.map((e) => e.type)
    expect(types.slice(-2)).toEqual(['outcome', 'session.close'])
    expect(outcomeOf(audit)[0].outcome).toMatchObject({ status: 'ok', cancelled: true, bytes: 7 })
    // The driver's own end afterwards changes nothing.
    await handle!.end(new Error('late'))
    expect(outcomeOf(audit)).toHaveLength(1)
    await warden.close()
  })

  it('an end reported while run is still running is recorded once run returns', async () => {
    const { audit, warden, session } = await open()
    let ended: Promise<void> | undefined
    await session.execute(command, (c) => {
      c.rows(1)
      ended = c.stream().end()
      expect(outcomeOf(audit)).toHaveLength(0)
    })
    await ended
    expect(outcomeOf(audit)[0].outcome).toMatchObject({ status: 'ok', rows: 1 })
    await warden.close()
  })

  it('a run that throws after handing over its stream has one outcome: the error', async () => {
    const { audit, warden, session } = await open()
    let handle: ReturnType<ExecuteContext['stream']> | undefined
    await expect(
      session.execute(command, (c) => {
        handle = c.stream()
        throw new Error('refused by the server')
      }),
    ).rejects.toThrow('refused by the server')
    await handle!.end()
    const outcomes = outcomeOf(audit)
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0].outcome).toMatchObject({ status: 'error' })
    await warden.close()
  })
})
