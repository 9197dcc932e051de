// A kube watch and a followed pod log end their commands when their streams end (issue 17 part
// 3), against the repo's API server double: the outcome record carries the mask report, the byte
// and event counts and the full duration (at least what the server measured), a stream that breaks
// records the error, the end does not reach the caller before the record is stored, and a watch
// or log the caller abandons ends its command.
import { PassThrough, Writable } from 'node:stream'
import { createWarden, type Lease, memorySink, Secret, type Warden } from '@warden/core'
import { Exec, KubeConfig, Log, Watch } from '@warden/drivers/kube'
import { compilePolicy } from '@warden/policy'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { type OutcomeProbe, outcomeProbe, turns } from '../internal/outcome-probe.js'
import { KubeApiServer } from './api-server.js'
import { selfSigned } from './self-signed.js'

const tls = selfSigned()

const TOKEN = 'kube-stream-token'
const KEY = 'AKIAIOSFODNN7EXAMPLE'
const POLICY = `
rules:
  - name: reads
    when: 'kube.verb in ["get", "list", "watch", "exec"]'
    effect: allow
masks:
  - name: keys
    resources: ["kubernetes:*"]
    detectors: [aws_access_key]
    strategy: redact
`

let server: KubeApiServer
let origin: string
let warden: Warden
let audit: ReturnType<typeof memorySink>
let probe: OutcomeProbe
let kc: KubeConfig

beforeAll(async () => {
  server = new KubeApiServer({ acceptToken: (t) => t === TOKEN, tls })
  origin = await server.listen()
  server.seed('namespaces', '', { metadata: { name: 'team' } })
  server.seed('pods', 'team', { metadata: { name: 'web' }, spec: { containers: [{ name: 'app' }] } })
  server.seed('configmaps', 'team', { metadata: { name: 'one' }, data: { note: `key ${KEY}` } })
  server.appendLog('team', 'web', 'app', `boot ${KEY}`)
})
afterAll(() => server.close())

beforeEach(async () => {
  audit = memorySink()
  probe = outcomeProbe()
  const broker = {
    issue: async (): Promise<Lease> => ({
      id: 'lease-1',
      credential: { type: 'token', token: new Secret(TOKEN) },
      expiresAt: new Date(Date.now() + 600_000),
      renewable: false,
    }),
    revoke: async () => {},
  }
  warden = createWarden({ policy: compilePolicy(POLICY), broker, audit: [audit, probe], signals: false })
  const session = await warden.session({ principal: { id: 'agent', type: 'agent' } })
  kc = new KubeConfig(session, {
    resource: 'dev',
    cluster: { server: origin, caData: tls.caData },
    namespace: 'team',
  })
})
afterEach(async () => {
  await server.endStreams()
  await warden.close().catch(() => {})
})

/** A Writable that collects text and says when it ended or failed. */
function sink() {
  let text = ''
  let ended = false
  let firstWrite: () => void = () => {}
  const wrote = new Promise<void>((resolve) => {
    firstWrite = resolve
  })
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += chunk.toString()
      firstWrite()
      callback()
    },
  })
  const finished = new Promise<Error | undefined>((resolve) => {
    stream.once('finish', () => {
      ended = true
      resolve(undefined)
    })
    stream.once('error', resolve)
  })
  return { stream, text: () => text, ended: () => ended, wrote, finished }
}

const outcomes = () => audit.entries.filter((e) => e.type === 'outcome')

describe('kube Log: a followed log ends its command', () => {
  test('the record carries the mask report, the bytes and the duration the server held it open', async () => {
    const out = sink()
    await new Log(kc).log('team', 'web', 'app', out.stream, { follow: true })
    await out.wrote
    expect(out.text()).toBe('boot [redacted]\n')
    expect(outcomes()).toHaveLength(0)
    server.appendLog('team', 'web', 'app', `later ${KEY}`)
    const [heldMs] = await server.endStreams()
    expect(await out.finished).toBeUndefined()
    expect(out.text()).toBe('boot [redacted]\nlater [redacted]\n')
    const record = audit.expectRecord({ action: 'kube.get', outcome: { status: 'ok' } })
    expect(record.outcome!.bytes).toBe(Buffer.byteLength(out.text()))
    expect(record.outcome!.ms).toBeGreaterThanOrEqual(heldMs!)
    expect(record.masked).toEqual([{ column: '(text)', strategy: 'redact', count: 2 }])
    expect(JSON.stringify(audit.lines)).not.toContain(KEY)
  })

  test('the log does not end before its outcome record is stored', async () => {
    const out = sink()
    await new Log(kc).log('team', 'web', 'app', out.stream, { follow: true })
    await out.wrote
    const release = audit.hold()
    const written = probe.next()
    await server.endStreams()
    await written
    await turns()
    expect(out.ended()).toBe(false)
    release()
    expect(await out.finished).toBeUndefined()
    expect(out.ended()).toBe(true)
  })

  test('a log whose connection breaks records the late error', async () => {
    const out = sink()
    await new Log(kc).log('team', 'web', 'app', out.stream, { follow: true })
    await out.wrote
    const written = probe.next()
    await server.endStreams('break')
    await written
    expect(await out.finished).toBeInstanceOf(Error)
    const record = audit.expectRecord({ action: 'kube.get', outcome: { status: 'error' } })
    expect(record.outcome!.error).toBeTruthy()
  })

  test('a log the caller aborts ends its command as cancelled', async () => {
    const out = sink()
    const controller = await new Log(kc).log('team', 'web', 'app', out.stream, { follow: true })
    await out.wrote
    const written = probe.next()
    controller.abort()
    await written
    audit.expectRecord({ action: 'kube.get', outcome: { status: 'ok', cancelled: true } })
  })
})

describe('kube Watch: a watch ends its command', () => {
  async function watch() {
    const events: { type: string; obj: any }[] = []
    let resolveDone: (err: unknown) => void = () => {}
    const done = new Promise<unknown>((resolve) => {
      resolveDone = resolve
    })
    let first: () => void = () => {}
    const firstEvent = new Promise<void>((resolve) => {
      first = resolve
    })
    let called = false
    const controller = await new Watch(kc).watch(
      '/api/v1/namespaces/team/configmaps',
      {},
      (type, obj) => {
        events.push({ type, obj })
        first()
      },
      (err) => {
        called = true
        resolveDone(err)
      },
    )
    return { events, done, firstEvent, controller, called: () => called }
  }

  test('the record carries the events, the bytes, the masks and the duration the server held it open', async () => {
    const w = await watch()
    await w.firstEvent
    expect(w.events[0]!.obj.data.note).toBe('key [redacted]')
    expect(outcomes()).toHaveLength(0)
    const [heldMs] = await server.endStreams()
    expect(await w.done).toBeNull()
    const record = audit.expectRecord({ action: 'kube.watch', outcome: { status: 'ok' } })
    expect(record.outcome).toMatchObject({ rows: 1 })
    expect(record.outcome!.bytes).toBeGreaterThan(0)
    expect(record.outcome!.ms).toBeGreaterThanOrEqual(heldMs!)
    expect(record.masked?.[0]).toMatchObject({ strategy: 'redact', count: 1 })
  })

  test('done is not called before the outcome record is stored', async () => {
    const w = await watch()
    await w.firstEvent
    const release = audit.hold()
    const written = probe.next()
    await server.endStreams()
    await written
    await turns()
    expect(w.called()).toBe(false)
    release()
    expect(await w.done).toBeNull()
  })

  test('an outcome that cannot be stored reaches done as ERR_WARDEN_RAN_UNRECORDED', async () => {
    const w = await watch()
    await w.firstEvent
    const release = audit.hold()
    const written = probe.next()
    await server.endStreams()
    await written
    release(new Error('disk full'))
    expect(await w.done).toMatchObject({ code: 'ERR_WARDEN_RAN_UNRECORDED' })
  })

  test('a watch whose connection breaks records the late error', async () => {
    const w = await watch()
    await w.firstEvent
    await server.endStreams('break')
    expect(await w.done).toBeInstanceOf(Error)
    audit.expectRecord({ action: 'kube.watch', outcome: { status: 'error' } })
  })

  test('a watch the caller aborts ends its command as cancelled', async () => {
    const w = await watch()
    await w.firstEvent
    w.controller.abort()
    await w.done
    audit.expectRecord({ action: 'kube.watch', outcome: { status: 'ok', cancelled: true } })
  })
})

describe('kube Exec: the command ends at its status frame', () => {
  async function exec(command: string[], stdin: PassThrough | null) {
    const out = sink()
    let statusOf: (s: any) => void = () => {}
    const status = new Promise<any>((resolve) => {
      statusOf = resolve
    })
    let called = false
    await new Exec(kc).exec('team', 'web', 'app', command, out.stream, null, stdin, false, (s) => {
      called = true
      statusOf(s)
    })
    return { out, status, called: () => called }
  }

  test('the record carries the exit status, the bytes and the mask report', async () => {
    const e = await exec(['echo', `key ${KEY}`], null)
    expect(await e.status).toMatchObject({ status: 'Success' })
    expect(e.out.text()).toBe('key [redacted]\n')
    const record = audit.expectRecord({ action: 'kube.exec', outcome: { status: 'ok' } })
    expect(record.outcome).toMatchObject({ exit: 0, bytes: Buffer.byteLength('key [redacted]\n') })
    expect(record.masked?.[0]).toMatchObject({ strategy: 'redact', count: 1 })
    const failed = await exec(['exit', '3'], null)
    expect(await failed.status).toMatchObject({ reason: 'NonZeroExitCode' })
    expect(audit.records.at(-1)?.outcome).toMatchObject({ status: 'ok', exit: 3 })
  })

  test('the status (and the end of stdout) waits for the outcome record', async () => {
    const stdin = new PassThrough()
    const e = await exec(['cat'], stdin)
    const release = audit.hold()
    const written = probe.next()
    stdin.end(`typed ${KEY}`)
    await written
    await turns()
    expect(e.called()).toBe(false)
    expect(e.out.ended()).toBe(false)
    release()
    expect(await e.status).toMatchObject({ status: 'Success' })
    expect(await e.out.finished).toBeUndefined()
    expect(e.out.text()).toBe('typed [redacted]')
  })

  test('an outcome that cannot be stored reaches the caller as a Failure status', async () => {
    const stdin = new PassThrough()
    const e = await exec(['cat'], stdin)
    const release = audit.hold()
    const written = probe.next()
    stdin.end('x')
    await written
    release(new Error('disk full'))
    expect(await e.status).toMatchObject({ status: 'Failure', reason: 'ERR_WARDEN_RAN_UNRECORDED' })
    expect(e.out.text()).toBe('')
  })
})
