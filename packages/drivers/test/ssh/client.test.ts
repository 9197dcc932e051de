// The guarded ssh2 Client against a real OpenSSH sshd, with a real policy and the sshCaBroker.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { inspect } from 'node:util'
import {
  type Broker,
  createWarden,
  type Lease,
  memorySink,
  revealSecret,
  Secret,
  type Session,
  type Warden,
} from '@warden/core'
import { Client, sshCaBroker } from '@warden/drivers/ssh'
import { compilePolicy } from '@warden/policy'
import type { ClientChannel, SFTPWrapper } from 'ssh2'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { LOGIN, startSshd, type TestSshd } from './sshd.js'

const POLICY = `
defaults: { effect: deny }
rules:
  - name: safe-exec
    resources: ["ssh:web-*"]
    when: 'action == "ssh.exec" && shell.parsed && shell.programs.all(p, p in ["echo", "id", "cat", "printf", "sleep", "ls", "test"])'
    effect: allow
  - name: shell-open
    when: 'action == "ssh.shell" && shell.text == ""'
    effect: allow
  - name: safe-lines
    when: 'action == "ssh.shell" && shell.text != "" && shell.parsed && shell.programs.all(p, p in ["echo", "ls", "cd", "pwd", "touch", "true"])'
    effect: allow
  - name: no-rm
    when: '"rm" in shell.programs'
    effect: deny
    reason: rm is not allowed here
  - name: sftp-scratch
    when: 'action.startsWith("sftp.") && sftp.path.startsWith(principal.claims.scratch + "/")'
    effect: allow
  - name: sftp-no-remove
    when: 'action == "sftp.remove" && sftp.path.endsWith(".keep")'
    effect: deny
    reason: .keep files stay
masks:
  - name: cloud-keys
    detectors: [aws_access_key]
    strategy: redact
`
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE'

let sshd: TestSshd
let recordings: string
let scratch: string
const leases: Lease[] = []
let warden: Warden
let audit: ReturnType<typeof memorySink>
let session: Session
const clients: Client[] = []

beforeAll(async () => {
  sshd = await startSshd()
  recordings = mkdtempSync(path.join(os.tmpdir(), 'warden-rec-'))
  scratch = `/tmp/warden-sftp-${process.pid}`
  const ca = sshCaBroker({
    caKey: new Secret(sshd.caKey),
    principals: { deployer: { logins: [LOGIN] } },
    ttl: '5m',
    hostKeys: { 'web-1': [sshd.hostKey] },
  })
  // Keeps the issued leases so the tests can look for their private keys everywhere.
  const broker: Broker = {
    issue: async (request) => {
      const lease = await ca.issue(request)
      leases.push(lease)
      return lease
    },
    revoke: (lease) => ca.revoke(lease),
  }
  audit = memorySink()
  warden = createWarden({ policy: compilePolicy(POLICY), broker, audit })
  session = await warden.session({ principal: { id: 'deployer', type: 'service', claims: { scratch } } })
})

afterAll(async () => {
  for (const c of clients) c.end()
  await warden?.close()
  await sshd?.stop()
  rmSync(recordings, { recursive: true, force: true })
})

function connect(config: Partial<Parameters<Client['connect']>[0]> = {}): Promise<Client> {
  const client = new Client(session)
  clients.push(client)
  return new Promise((resolve, reject) => {
    client.once('ready', () => resolve(client)).once('error', reject)
    client.connect({ host: '127.0.0.1', port: sshd.port, resource: 'web-1', recordings, ...config })
  })
}

interface ExecResult {
  stdout: string
  stderr: string
  code: number | undefined
}

function exec(client: Client, command: string, options: object = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, options, (err, ch) => {
      if (err) return reject(err)
      const out = { stdout: '', stderr: '', code: undefined as number | undefined }
      ch.on('data', (d: Buffer) => {
        out.stdout += d
      })
      ch.stderr.on('data', (d: Buffer) => {
        out.stderr += d
      })
      ch.on('exit', (code: number) => {
        out.code = code
      })
      ch.on('close', () => resolve(out))
    })
  })
}

describe('connect', () => {
  test('logs in with a broker-issued certificate; no credential on the client', async () => {
    const client = await connect()
    expect((await exec(client, 'id -un')).stdout.trim()).toBe(LOGIN)
    expect(sshd.log()).toMatch(/Accepted certificate ID "warden:deployer:ssh:web-1:/)
  })

  test('refuses credentials in config', () => {
    const client = new Client(session)
    expect(() => client.connect({ host: 'x', resource: 'web-1', password: 'x' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }),
    )
    expect(() => client.connect({ host: 'x', resource: 'web-1', privateKey: 'x' } as never)).toThrow(
      /credentials come from the broker/,
    )
  })

  test('refuses a host whose key is not pinned (no trust on first use)', async () => {
    await expect(connect({ resource: 'web-2' })).rejects.toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
  })

  test('refuses a host presenting a different key than the pinned one', async () => {
    const other = await startSshd()
    try {
      // web-1's pin (from the broker) does not match the other sshd's host key.
      await expect(connect({ port: other.port })).rejects.toThrow(/verification failed|Host denied/i)
    } finally {
      await other.stop()
    }
  })

  test('a config pin works when the broker has none', async () => {
    const client = await connect({ resource: 'web-9', hostKeys: [sshd.hostKey] })
    expect((await exec(client, 'echo pinned')).stdout).toBe('pinned\n')
  })
})

describe('exec', () => {
  let client: Client
  beforeAll(async () => {
    client = await connect()
  })

  test('allowed command runs and is audited with its facts and recording', async () => {
    audit.clear()
    const result = await exec(client, 'echo hello | cat')
    expect(result).toMatchObject({ stdout: 'hello\n', code: 0 })
    const record = audit.expectRecord({ action: 'ssh.exec', command: 'echo hello | cat' })
    expect(record.decision).toMatchObject({ effect: 'allow', rule: 'safe-exec' })
    expect(record.facts).toMatchObject({ programs: ['echo', 'cat'], flags: ['pipe'] })
    expect(record.outcome?.status).toBe('ok')
    expect(typeof record.recording).toBe('string')
  })

  test('denied command never reaches the server', async () => {
    const marker = `/tmp/warden-denied-${process.pid}`
    await expect(exec(client, `touch ${marker} && rm -rf ${marker}`)).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'no-rm',
    })
    await expect(exec(client, `sh -c "rm -f ${marker}"`)).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    await expect(exec(client, 'curl -s http://x | sh')).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    expect((await exec(client, `test -e ${marker}; echo $?`)).stdout.trim()).toBe('1') // touch never ran
    expect(audit.filter({ action: 'ssh.exec', outcome: { status: 'denied' } }).length).toBeGreaterThanOrEqual(
      3,
    )
  })

  test('env variables are part of what is decided', async () => {
    await expect(exec(client, 'id', { env: { LD_PRELOAD: '/tmp/x.so' } })).resolves.toMatchObject({ code: 0 })
    const record = audit.expectRecord({ command: "LD_PRELOAD='/tmp/x.so' id" })
    expect(record.facts).toMatchObject({ flags: ['env_assignment'] })
  })

  test('agent and X11 forwarding are refused', async () => {
    await expect(exec(client, 'id', { agentForward: true })).rejects.toMatchObject({
      code: 'ERR_WARDEN_UNSUPPORTED',
    })
    await expect(exec(client, 'id', { x11: true })).rejects.toMatchObject({ code: 'ERR_WARDEN_UNSUPPORTED' })
  })

  test('stdout and stderr are masked line by line, also across chunk boundaries; recording too', async () => {
    audit.clear()
    const command = `printf 'key=${AWS_KEY.slice(0, 10)}'; sleep 0.3; printf '${AWS_KEY.slice(10)} ok\\n'; echo err ${AWS_KEY} >&2`
    const result = await exec(client, command)
    expect(result.code).toBe(0)
    expect(result.stdout).not.toContain(AWS_KEY)
    expect(result.stdout).toMatch(/^key=.+ ok\n$/)
    expect(result.stderr).not.toContain(AWS_KEY)
    expect(result.stderr).toMatch(/^err .+\n$/)
    const record = audit.expectRecord({ action: 'ssh.exec' })
    // stdout, stderr, and the command line in the recording's header
    expect(record.masked).toEqual([expect.objectContaining({ strategy: 'redact', count: 3 })])
    const cast = readFileSync(record.recording as string, 'utf8')
    expect(cast).not.toContain(AWS_KEY)
    const [header, ...events] = cast
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(header).toMatchObject({ version: 2, width: 80, height: 24 })
    const shown = events.map((e: [number, string, string]) => e[2]).join('')
    expect(shown).toMatch(/key=.+ ok\n/)
    expect(shown).not.toContain(AWS_KEY.slice(10)) // the key was split across two chunks
  })

  test('no session: the command is refused', async () => {
    const orphan = new Client(warden) // ambient session only
    await expect(
      new Promise((resolve, reject) => orphan.exec('id', (err) => (err ? reject(err) : resolve(undefined)))),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_NO_SESSION' })
  })
})
