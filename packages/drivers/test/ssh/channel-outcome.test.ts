// An ssh exec ends its command when its channel closes (issue 17 part 3), over the real sshd: the
// outcome record carries the mask report, the output bytes, the exit status and the full duration
// (at least what the remote process itself measured), a connection lost mid-command is recorded
// as an error, the application sees neither 'end' nor 'close' before the record is stored, and a
// channel the application destroys ends its command as cancelled.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createWarden, memorySink, Secret, type Session, type Warden } from '@warden/core'
import { Client, sshCaBroker } from '@warden/drivers/ssh'
import { compilePolicy } from '@warden/policy'
import type ssh2 from 'ssh2'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { type OutcomeProbe, outcomeProbe, turns } from '../internal/outcome-probe.js'
import { LOGIN, startSshd, type TestSshd } from './sshd.js'

const POLICY = `
defaults: { effect: deny }
rules:
  - name: execs
    resources: ["ssh:web-*"]
    when: 'action == "ssh.exec"'
    effect: allow
masks:
  - name: keys
    detectors: [aws_access_key]
    strategy: redact
`
const KEY = 'AKIAIOSFODNN7EXAMPLE'

let sshd: TestSshd
let dir: string
let fifoSeq = 0
let warden: Warden
let audit: ReturnType<typeof memorySink>
let probe: OutcomeProbe
let session: Session
let client: Client

beforeAll(async () => {
  sshd = await startSshd()
  dir = mkdtempSync(path.join(os.tmpdir(), `w17-ssh-${process.pid}-`))
  chmodSync(dir, 0o755) // the login account reads the gates
})
afterAll(async () => {
  await sshd?.stop()
  rmSync(dir, { recursive: true, force: true })
})

beforeEach(async () => {
  const broker = sshCaBroker({
    caKey: new Secret(sshd.caKey),
    principals: { deployer: { logins: [LOGIN] } },
    ttl: '5m',
    hostKeys: { 'web-1': [sshd.hostKey] },
  })
  audit = memorySink()
  probe = outcomeProbe()
  warden = createWarden({ policy: compilePolicy(POLICY), broker, audit: [audit, probe], signals: false })
  session = await warden.session({ principal: { id: 'deployer', type: 'service' } })
  client = new Client(session)
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject)
    client.connect({ host: '127.0.0.1', port: sshd.port, resource: 'web-1', recordings: false })
  })
})
afterEach(async () => {
  client.end()
  await warden.close().catch(() => {})
})

/** A named pipe the remote command blocks on until the test opens it: the test decides when it ends. */
function gate(): { path: string; open(): Promise<void> } {
  const file = path.join(dir, `gate-${++fifoSeq}`)
  execFileSync('mkfifo', ['-m', '0666', file])
  return { path: file, open: () => writeFile(file, 'go\n') }
}

function exec(command: string): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) =>
    client.exec(command, (error, channel) => (error ? reject(error) : resolve(channel))),
  )
}

/** Everything the channel emits until 'close', in order, with stdout as text. */
function observe(channel: ssh2.ClientChannel) {
  const events: string[] = []
  let stdout = ''
  channel.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  channel.stderr.resume()
  const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()))
  const errored = new Promise<Error>((resolve) => channel.once('error', resolve))
  channel.once('end', () => events.push('end'))
  channel.once('close', () => events.push('close'))
  return { events, stdout: () => stdout, closed, errored }
}

describe('ssh exec: the command ends when its channel closes', () => {
  test('the record carries the mask report, the bytes, the exit status and the duration the remote process measured', async () => {
    const g = gate()
    // The remote process measures how long it ran, in microseconds, from before its first output.
    const channel = await exec(
      `s=$(date +%s%N); echo "first ${KEY}"; cat ${g.path} > /dev/null; echo "held $(( ($(date +%s%N) - s) / 1000 ))"; exit 3`,
    )
    const seen = observe(channel)
    await new Promise((resolve) => channel.once('data', resolve))
    expect(seen.stdout()).toBe('first [redacted]\n')
    expect(audit.entries.filter((e) => e.type === 'outcome')).toHaveLength(0)
    await g.open()
    await seen.closed
    const heldUs = Number(/held (\d+)/.exec(seen.stdout())?.[1])
    expect(heldUs).toBeGreaterThan(0)
    const record = audit.expectRecord({ action: 'ssh.exec', outcome: { status: 'ok' } })
    expect(record.outcome).toMatchObject({ exit: 3, bytes: Buffer.byteLength(seen.stdout()) })
    expect(record.outcome!.ms).toBeGreaterThanOrEqual(heldUs / 1000)
    expect(record.masked).toEqual([{ column: '(text)', strategy: 'redact', count: 1 }])
    expect(JSON.stringify(audit.lines) + seen.stdout()).not.toContain(KEY)
    expect(seen.events).toEqual(['end', 'close'])
  })

  test('neither end nor close reaches the application before the outcome record is stored', async () => {
    const g = gate()
    const channel = await exec(`echo "one ${KEY}"; cat ${g.path} > /dev/null; printf "two ${KEY}"`)
    const seen = observe(channel)
    await new Promise((resolve) => channel.once('data', resolve))
    const release = audit.hold()
    const written = probe.next()
    await g.open()
    await written
    await turns()
    expect(seen.events).toEqual([])
    // The masked tail (a last line without its newline, held until EOF) waits with the end.
    expect(seen.stdout()).toBe('one [redacted]\n')
    release()
    await seen.closed
    expect(seen.events).toEqual(['end', 'close'])
    expect(seen.stdout()).toBe('one [redacted]\ntwo [redacted]')
    expect(audit.records.at(-1)?.outcome).toMatchObject({ status: 'ok', exit: 0 })
  })

  test('an outcome that cannot be stored errors the channel with ERR_WARDEN_RAN_UNRECORDED', async () => {
    const g = gate()
    const channel = await exec(`echo one; cat ${g.path} > /dev/null`)
    const seen = observe(channel)
    await new Promise((resolve) => channel.once('data', resolve))
    const release = audit.hold()
    const written = probe.next()
    await g.open()
    await written
    release(new Error('disk full'))
    expect(await seen.errored).toMatchObject({ code: 'ERR_WARDEN_RAN_UNRECORDED' })
    await seen.closed
    expect(seen.events).not.toContain('end')
  })

  test('a connection lost mid-command records the late error', async () => {
    // The remote shell kills the sshd process serving it: the connection drops with no exit status.
    const g = gate()
    const channel = await exec(`echo first; cat ${g.path} > /dev/null; kill -9 $PPID; sleep 5`)
    const seen = observe(channel)
    await new Promise((resolve) => channel.once('data', resolve))
    await g.open()
    await seen.closed
    const record = audit.expectRecord({ action: 'ssh.exec', outcome: { status: 'error' } })
    expect(record.outcome!.error).toContain('closed before the remote command reported its exit')
    expect(record.outcome!.bytes).toBe(Buffer.byteLength('first\n'))
  })

  test('a channel the application destroys ends its command as cancelled', async () => {
    const g = gate()
    const channel = await exec(`echo first; exec cat ${g.path} > /dev/null`)
    const seen = observe(channel)
    await new Promise((resolve) => channel.once('data', resolve))
    const written = probe.next()
    channel.destroy()
    await written
    const record = audit.expectRecord({ action: 'ssh.exec', outcome: { status: 'ok', cancelled: true } })
    expect(record.outcome!.bytes).toBe(Buffer.byteLength('first\n'))
    await seen.closed
  })
})
