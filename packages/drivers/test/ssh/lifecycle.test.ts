// The guarded Client's lifecycle against a real sshd: approvals, broker failures, lease expiry, session close.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Approver, type Broker, createWarden, memorySink, Secret, type Session } from '@warden/core'
import { autoApprove, autoDeny, stubBroker } from '@warden/core/testing'
import { Client, sshCaBroker } from '@warden/drivers/ssh'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { LOGIN, startSshd, type TestSshd } from './sshd.js'

const POLICY = compilePolicy(`
defaults: { effect: deny }
rules:
  - name: echo
    when: 'action == "ssh.exec" && shell.parsed && shell.programs.all(p, p in ["echo", "sleep"])'
    effect: allow
  - name: touch-needs-a-human
    when: 'action == "ssh.exec" && shell.parsed && shell.programs == ["touch"]'
    effect: approve
    approval: { approvers: [oncall], timeout: 1m }
`)

let sshd: TestSshd
let recordings: string
const cleanups: (() => unknown)[] = []

beforeAll(async () => {
  sshd = await startSshd()
  recordings = mkdtempSync(path.join(os.tmpdir(), 'warden-rec-'))
})
afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
  await sshd?.stop()
  rmSync(recordings, { recursive: true, force: true })
})

async function open(options: { broker?: Broker; approvals?: Approver; ttl?: number } = {}) {
  const audit = memorySink()
  const broker =
    options.broker ??
    sshCaBroker({
      caKey: new Secret(sshd.caKey),
      principals: { bot: { logins: [LOGIN] } },
      ttl: options.ttl ?? 300,
      hostKeys: { box: [sshd.hostKey] },
    })
  const warden = createWarden({
    policy: POLICY,
    broker,
    audit,
    ...(options.approvals ? { approvals: options.approvals } : {}),
  })
  cleanups.push(() => warden.close())
  const session = await warden.session({ principal: { id: 'bot', type: 'agent' } })
  return { audit, session }
}

function connect(session: Session): Promise<Client> {
  const client = new Client(session)
  cleanups.push(() => client.end())
  return new Promise((resolve, reject) => {
    client.once('ready', () => resolve(client)).once('error', reject)
    client.connect({ host: '127.0.0.1', port: sshd.port, resource: 'box', recordings })
  })
}

function exec(client: Client, command: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.exec(command, (err, ch) => {
      if (err) return reject(err)
      let out = ''
      ch.on('data', (d: Buffer) => {
        out += d
      }).on('close', () => resolve(out))
    }),
  )
}

describe('lifecycle', () => {
  test('an approve rule waits for the approver: rejected never runs, approved runs', async () => {
    const marker = `/tmp/warden-approval-${process.pid}`
    const denied = await open({ approvals: autoDeny({ by: 'alice', reason: 'not now' }) })
    const c1 = await connect(denied.session)
    await expect(exec(c1, `touch ${marker}`)).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED' })
    denied.audit.expectRecord({ action: 'ssh.exec', outcome: { status: 'rejected' } })
    expect(existsSync(marker)).toBe(false)
    const approver = autoApprove({ by: 'bob' })
    const approved = await open({ approvals: approver })
    const c2 = await connect(approved.session)
    await exec(c2, `touch ${marker}`)
    expect(existsSync(marker)).toBe(true)
    expect(approver.requests).toHaveLength(1)
    approved.audit.expectRecord({
      action: 'ssh.exec',
      approval: { status: 'approved', by: 'bob' },
      outcome: { status: 'ok' },
    })
    rmSync(marker, { force: true })
  })

  test('a broker that fails, or issues the wrong credential type, fails the connection closed', async () => {
    const stub = stubBroker()
    const wrongType = await open({ broker: stub })
    await expect(connect(wrongType.session)).rejects.toMatchObject({ code: 'ERR_WARDEN_BROKER' })
    const failing = stubBroker()
    failing.fail()
    const broken = await open({ broker: failing })
    await expect(connect(broken.session)).rejects.toMatchObject({ code: 'ERR_WARDEN_BROKER' })
    // The stub's canary password never shows up in the error.
    const error = await connect(wrongType.session).catch((e: Error) => e)
    expect(`${(error as Error).message} ${(error as Error).stack}`).not.toContain(stub.canary)
  })

  test('closing the session closes its running channels', async () => {
    const { session, audit } = await open()
    const client = await connect(session)
    const closed = new Promise<void>((resolve, reject) =>
      client.exec('sleep 30', (err, ch) => (err ? reject(err) : ch.resume().on('close', () => resolve()))),
    )
    await new Promise((r) => setTimeout(r, 200))
    await session.close()
    await closed
    expect(audit.find({ action: 'ssh.exec', command: 'sleep 30' })).toBeDefined()
  })

  test('the connection ends when its lease (certificate) expires', async () => {
    const { session } = await open({ ttl: 2 })
    const client = await connect(session)
    await new Promise<void>((resolve) => client.once('close', () => resolve()))
  })
})

describe('plain keys', () => {
  test('a broker may issue a plain key (no certificate); it is used as is', async () => {
    const keyed = await startSshd([
      `AuthorizedKeysFile ${path.join(os.tmpdir(), `warden-ak-${process.pid}`)}`,
    ])
    cleanups.push(() => keyed.stop())
    const file = path.join(keyed.dir, 'plain')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file])
    writeFileSync(path.join(os.tmpdir(), `warden-ak-${process.pid}`), readFileSync(`${file}.pub`))
    cleanups.push(() => rmSync(path.join(os.tmpdir(), `warden-ak-${process.pid}`), { force: true }))
    const broker: Broker = {
      issue: async () => ({
        id: 'plain',
        credential: {
          type: 'ssh',
          username: LOGIN,
          privateKey: new Secret(readFileSync(file, 'utf8')),
          hostKeys: [keyed.hostKey],
        },
        expiresAt: new Date(Date.now() + 60_000),
        renewable: false,
      }),
      revoke: async () => {},
    }
    const { session } = await open({ broker })
    const client = new Client(session)
    cleanups.push(() => client.end())
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve()).once('error', reject)
      client.connect({ host: '127.0.0.1', port: keyed.port, resource: 'box', recordings })
    })
    expect(await exec(client, 'echo plain-key')).toBe('plain-key\n')
  })
})

describe('recordings', () => {
  test('a recording that cannot be written fails the command closed (it does not run unrecorded)', async () => {
    const { session, audit } = await open()
    const client = new Client(session)
    cleanups.push(() => client.end())
    const blocker = path.join(recordings, 'not-a-directory')
    writeFileSync(blocker, 'x')
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve()).once('error', reject)
      client.connect({
        host: '127.0.0.1',
        port: sshd.port,
        resource: 'box',
        recordings: path.join(blocker, 'casts'),
      })
    })
    const marker = `/tmp/warden-unrecorded-${process.pid}`
    await expect(exec(client, `echo $(sleep 0.5) > ${marker}`)).rejects.toThrow(/ENOTDIR|not a directory/)
    audit.expectRecord({ action: 'ssh.exec', outcome: { status: 'error' } })
    await new Promise((r) => setTimeout(r, 800))
    expect(existsSync(marker)).toBe(false)
  })
})
