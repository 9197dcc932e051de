// A streamed fetch body ends its command (issue 17 part 3): the outcome record is written when the
// body ends, with the mask report, the bytes and the full duration, and the caller does not see the
// end of the body before that record is stored.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createWarden, memorySink, type Session, type Warden } from '@warden/core'
import { createFetch } from '@warden/drivers/fetch'
import { compilePolicy } from '@warden/policy'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { type OutcomeProbe, outcomeProbe, turns } from '../internal/outcome-probe.js'

const KEY = 'AKIAIOSFODNN7EXAMPLE'

/**
 * A body the test ends: the server writes `first`, then waits for `finish()` to write `rest` and
 * end (or to break the connection); it measures how long it held the body open itself.
 */
interface Held {
  readonly opened: Promise<void>
  finish(how: 'end' | 'break'): Promise<number>
}
let pending: { first: string; rest: string; held: (h: Held) => void } | undefined
let server: http.Server
let origin: string

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    const spec = pending!
    pending = undefined
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
    let opened: () => void = () => {}
    const wrote = new Promise<void>((resolve) => {
      opened = resolve
    })
    const start = performance.now()
    res.write(spec.first, () => opened())
    spec.held({
      opened: wrote,
      finish: (how) =>
        new Promise<number>((resolve) => {
          if (how === 'break') {
            res.socket?.destroy()
            return resolve(performance.now() - start)
          }
          res.end(spec.rest, () => resolve(performance.now() - start))
        }),
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

function serve(first: string, rest: string): Promise<Held> {
  return new Promise((held) => {
    pending = { first, rest, held }
  })
}

const policy = compilePolicy(`
rules:
  - name: reads
    when: 'http.method == "GET"'
    effect: allow
masks:
  - name: keys
    detectors: [aws_access_key]
    strategy: redact
`)

let warden: Warden
let session: Session
let audit: ReturnType<typeof memorySink>
let probe: OutcomeProbe
let api: typeof fetch
beforeEach(async () => {
  audit = memorySink()
  probe = outcomeProbe()
  warden = createWarden({ policy, audit: [audit, probe], signals: false })
  session = await warden.session({ principal: { id: 'svc', type: 'service' } })
  api = createFetch(session, { resource: 'logs', origin, credentials: false })
})
afterEach(() => warden.close().catch(() => {}))

const outcomes = () => audit.entries.filter((e) => e.type === 'outcome')

async function readAll(body: ReadableStream<Uint8Array>): Promise<string> {
  let text = ''
  const decoder = new TextDecoder()
  for await (const chunk of body) text += decoder.decode(chunk, { stream: true })
  return text + decoder.decode()
}

describe('fetch: a streamed text body ends its command', () => {
  test('the record carries the mask report, the bytes and the duration the server held it open', async () => {
    const held = serve(`line 1 ${KEY}\n`, `line 2 ${KEY}\nlast\n`)
    const res = await api(`${origin}/log`)
    const server = await held
    await server.opened
    // The first bytes reach the caller while the body is open, and no outcome exists yet.
    const reader = res.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toBe('line 1 [redacted]\n')
    expect(outcomes()).toHaveLength(0)
    const heldMs = await server.finish('end')
    reader.releaseLock()
    const rest = await readAll(res.body!)
    expect(rest).toBe('line 2 [redacted]\nlast\n')
    expect(rest + new TextDecoder().decode(first.value)).not.toContain(KEY)
    const record = audit.expectRecord({ action: 'http.request', outcome: { status: 'ok' } })
    const delivered = Buffer.byteLength('line 1 [redacted]\nline 2 [redacted]\nlast\n')
    expect(record.outcome).toMatchObject({ status: 'ok', bytes: delivered })
    expect(record.outcome!.ms).toBeGreaterThanOrEqual(heldMs)
    expect(record.masked).toEqual([{ column: '(text)', strategy: 'redact', count: 2 }])
    expect(JSON.stringify(audit.lines)).not.toContain(KEY)
    expect(audit.verify().ok).toBe(true)
  })

  test('a body that breaks after its first bytes records the late error', async () => {
    const held = serve('partial\n', '')
    const res = await api(`${origin}/log`)
    const server = await held
    await server.opened
    const reading = readAll(res.body!)
    await server.finish('break')
    const error = await reading.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(Error)
    const record = audit.expectRecord({ action: 'http.request', outcome: { status: 'error' } })
    expect(record.outcome!.error).toBeTruthy()
    expect(record.outcome!.bytes).toBe(Buffer.byteLength('partial\n'))
    expect(outcomes()).toHaveLength(1)
  })

  test('the end of the body is not delivered before its outcome record is stored', async () => {
    const held = serve('a\n', 'b\n')
    const res = await api(`${origin}/log`)
    const server = await held
    await server.opened
    const release = audit.hold()
    let ended = false
    const reading = readAll(res.body!).then((text) => {
      ended = true
      return text
    })
    const written = probe.next()
    await server.finish('end')
    await written
    // The outcome is written but not stored: the caller has not seen the end.
    await turns()
    expect(ended).toBe(false)
    release()
    expect(await reading).toBe('a\nb\n')
    expect(ended).toBe(true)
  })

  test('an outcome that cannot be stored errors the body with ERR_WARDEN_RAN_UNRECORDED', async () => {
    const held = serve('a\n', 'b\n')
    const res = await api(`${origin}/log`)
    const server = await held
    await server.opened
    const release = audit.hold()
    const reading = readAll(res.body!)
    const written = probe.next()
    await server.finish('end')
    await written
    release(new Error('disk full'))
    await expect(reading).rejects.toMatchObject({ code: 'ERR_WARDEN_RAN_UNRECORDED' })
  })

  test('a body the caller cancels ends its command as cancelled', async () => {
    const held = serve('first\n', 'never read\n')
    const res = await api(`${origin}/log`)
    const server = await held
    await server.opened
    const reader = res.body!.getReader()
    await reader.read()
    await reader.cancel()
    const record = audit.expectRecord({ action: 'http.request', outcome: { status: 'ok', cancelled: true } })
    expect(record.outcome!.bytes).toBe(Buffer.byteLength('first\n'))
    await server.finish('end')
  })
})
