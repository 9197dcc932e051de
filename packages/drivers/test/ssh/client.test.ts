// The guarded ssh2 Client against a real OpenSSH sshd, with a real policy and the sshCaBroker.
import { execFileSync } from 'node:child_process'
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
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
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
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
    when: 'action == "ssh.shell" && shell.text != "" && shell.parsed && shell.programs.all(p, p in ["echo", "ls", "cd", "pwd", "touch", "true", "printf", "less"])'
    effect: allow
  - name: no-rm
    when: '"rm" in shell.programs'
    effect: deny
    reason: rm is not allowed here
  - name: sftp-scratch
    when: 'action.startsWith("sftp.") && (sftp.path == principal.claims.scratch || sftp.path.startsWith(principal.claims.scratch + "/"))'
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
    expect(record.outcome?.exit).toBe(0)
    expect(typeof record.recording).toBe('string')
    // The lease of the connection it ran on (one per connect).
    expect(leases.map((l) => l.id)).toContain(record.lease)
  })

  test('the exit status or signal of the remote process is in the audit record', async () => {
    audit.clear()
    expect((await exec(client, 'test -e /nonexistent-warden')).code).toBe(1)
    const failed = audit.expectRecord({ action: 'ssh.exec', command: 'test -e /nonexistent-warden' })
    expect(failed.outcome).toMatchObject({ status: 'ok', exit: 1 })
    expect(failed.outcome?.signal).toBeUndefined()
    // A process ended by a signal reports the signal's name instead of a status.
    const ended = await new Promise<unknown[]>((resolve, reject) =>
      client.exec('sleep 30', (err, ch) => {
        if (err) return reject(err)
        let exit: unknown[] = []
        ch.on('exit', (...args: unknown[]) => {
          exit = args
        })
        ch.on('data', () => {})
        ch.on('close', () => resolve(exit))
        setTimeout(() => ch.signal('TERM'), 200)
      }),
    )
    expect(ended.slice(0, 2)).toEqual([null, 'SIGTERM'])
    const killed = audit.expectRecord({ action: 'ssh.exec', command: 'sleep 30' })
    expect(killed.outcome).toMatchObject({ status: 'ok', signal: 'SIGTERM' })
    expect(killed.outcome?.exit).toBeUndefined()
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
    // LD_PRELOAD loads code into the command: a trusted variable, so runtime_code too.
    expect((record.facts as { flags: string[] }).flags.sort()).toEqual(['env_assignment', 'runtime_code'])
  })

  test('an env name that is not a POSIX name is refused before anything is decided or sent', async () => {
    const client = await connect()
    const marker = `/tmp/warden-env-${process.pid}`
    rmSync(marker, { force: true })
    const before = audit.records.length
    // Each would make the `NAME='value' ` prefix other shell syntax: a comment, a second command, a word.
    for (const name of ['#', 'A;echo injected', 'A B', '1X', 'X=Y', '', 'É', 'A\nB', '$(id)']) {
      await expect(
        exec(client, `echo ran > ${marker}`, { env: { [name]: '1' } }),
        name,
      ).rejects.toMatchObject({
        code: 'ERR_WARDEN_CONFIG',
        message: expect.stringContaining('is not a POSIX variable name'),
      })
    }
    expect(audit.records.length).toBe(before)
    expect(existsSync(marker)).toBe(false)
    // the control: a POSIX name runs, on the same connection, with its assignment in the record
    await expect(exec(client, `echo ran > ${marker}`, { env: { RUN_ID: '7' } })).resolves.toMatchObject({
      code: 0,
    })
    expect(readFileSync(marker, 'utf8')).toBe('ran\n')
    audit.expectRecord({ command: `RUN_ID='7' echo ran > ${marker}`, outcome: { status: 'ok' } })
    rmSync(marker, { force: true })
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

  test('a recording that cannot be written stops the command, and its record says why', async () => {
    // A file system too small for the recording (the suite runs as root, as CI does).
    const full = mkdtempSync(path.join(os.tmpdir(), 'warden-rec-full-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', full])
    try {
      const client = await connect({ recordings: full })
      const command = "printf '%050000d\\n' 0; sleep 30; echo finished"
      const result = await exec(client, command)
      expect(result.stdout).not.toContain('finished')
      const record = audit.expectRecord({ action: 'ssh.exec', command })
      expect(record.outcome).toMatchObject({
        status: 'error',
        code: 'ERR_WARDEN_AUDIT',
        error: expect.stringMatching(/session recording .* could not be written/),
      })
      expect(record.recording).toMatch(/^.*warden-rec-full-.*\.cast$/)
    } finally {
      execFileSync('umount', ['-l', full])
      rmSync(full, { recursive: true, force: true })
    }
  })

  test('no session: the command is refused', async () => {
    const orphan = new Client(warden) // ambient session only
    await expect(
      new Promise((resolve, reject) => orphan.exec('id', (err) => (err ? reject(err) : resolve(undefined)))),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_NO_SESSION' })
  })
})

/** Polls until `check()` is truthy (the remote shell answers asynchronously). */
let debugOutput: (() => string) | undefined
async function waitFor<T>(check: () => T, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = check()
    if (value) return value
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${debugOutput ? `: ${JSON.stringify(debugOutput().slice(-600))}` : ''}`,
      )
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface Shell {
  channel: ClientChannel
  output(): string
  /** Output since the last call to mark(). */
  since(): string
  mark(): void
  type(keys: string): Promise<void>
}

function openShell(client: Client): Promise<Shell> {
  return new Promise((resolve, reject) => {
    client.shell({ cols: 100, rows: 30, term: 'xterm' }, (err, channel) => {
      if (err) return reject(err)
      let out = ''
      let mark = 0
      debugOutput = () => out
      channel.on('data', (d: Buffer) => {
        out += d
      })
      const shell: Shell = {
        channel,
        output: () => out,
        since: () => out.slice(mark),
        mark: () => {
          mark = out.length
        },
        type: (keys) => new Promise<void>((r) => channel.write(keys, () => r())),
      }
      waitFor(() => /\$ $/.test(out), 'the prompt').then(() => resolve(shell), reject)
    })
  })
}

/** The output ends at a prompt (readline may follow it with an erase-line). */
const atPrompt = (out: string) => out.endsWith('$ ') || out.endsWith('$ \x1b[K')

const shellLines = () =>
  audit
    .filter({ action: 'ssh.shell' })
    .map((r) => r.command)
    .filter((c) => c !== '')

describe('shell', () => {
  let client: Client
  let shell: Shell
  beforeAll(async () => {
    client = await connect()
    audit.clear()
    shell = await openShell(client)
  })

  test('each line is decided as the terminal shows it: tab completion', async () => {
    shell.mark()
    await shell.type('ech')
    await shell.type('\t')
    await shell.type('hello-from-shell\r')
    await waitFor(() => shell.since().includes('\rhello-from-shell\r\n'), 'the echo output')
    await waitFor(() => shellLines().includes('echo hello-from-shell'), 'the audit record')
    // The shell and each of its lines name the lease of the connection they run on.
    const opened = audit.expectRecord({ action: 'ssh.shell', command: '' })
    expect(leases.map((l) => l.id)).toContain(opened.lease)
    expect(audit.expectRecord({ action: 'ssh.shell', command: 'echo hello-from-shell' }).lease).toBe(
      opened.lease,
    )
  })

  test('history (Up arrow) is decided as the recalled line', async () => {
    audit.clear()
    shell.mark()
    await shell.type('\x1b[A')
    await shell.type('\r')
    await waitFor(() => shellLines().includes('echo hello-from-shell'), 'the recalled line')
    await waitFor(() => shell.since().includes('\rhello-from-shell\r\n'), 'the output')
  })

  test('backspaces are applied before deciding', async () => {
    audit.clear()
    shell.mark()
    await shell.type('echo typo\x7f\x7f\x7fpo-fixed\r')
    await waitFor(() => shell.since().includes('\rtpo-fixed\r\n'), 'the output')
    expect(shellLines()).toEqual(['echo tpo-fixed'])
  })

  test('a denied line is cancelled before Enter reaches the server; the shell stays usable', async () => {
    const victim = `/tmp/warden-victim-${process.pid}`
    await shell.type(`touch ${victim}\r`)
    await waitFor(() => shellLines().includes(`touch ${victim}`), 'touch')
    audit.clear()
    shell.mark()
    await shell.type(`rm -rf ${victim}\r`)
    await waitFor(
      () => shell.since().includes('warden: denied by no-rm: rm is not allowed here'),
      'the notice',
    )
    expect(audit.expectRecord({ action: 'ssh.shell', command: `rm -rf ${victim}` }).outcome?.status).toBe(
      'denied',
    )
    // Still usable, and the file survived.
    shell.mark()
    await shell.type(`ls ${victim} && echo still-here\r`)
    await waitFor(() => shell.since().includes('\nstill-here\r\n'), 'the shell to answer')
    expect(shell.since()).toContain(victim)
  })

  test('lines the parser cannot classify are denied (curl | sh, unterminated quote)', async () => {
    audit.clear()
    shell.mark()
    await shell.type('curl -s http://x | sh\r')
    await waitFor(
      () => audit.find({ command: 'curl -s http://x | sh', outcome: { status: 'denied' } }),
      'curl|sh denied',
    )
    await shell.type('echo "unterminated\r')
    await waitFor(
      () => audit.find({ command: 'echo "unterminated', outcome: { status: 'denied' } }),
      'quote denied',
    )
    shell.mark()
    await shell.type('echo ok-after\r')
    await waitFor(() => shell.since().includes('\rok-after\r\n'), 'the shell to answer')
  })

  test('a pasted block is decided line by line (bracketed paste markers are stripped)', async () => {
    audit.clear()
    shell.mark()
    await shell.type('\x1b[200~echo first-line\rrm -rf /tmp/nothing\recho third-line\r\x1b[201~')
    await waitFor(() => shell.since().includes('\rthird-line\r\n'), 'the third line')
    expect(shellLines()).toEqual(['echo first-line', 'rm -rf /tmp/nothing', 'echo third-line'])
    expect(audit.find({ command: 'rm -rf /tmp/nothing' })?.outcome?.status).toBe('denied')
    expect(shell.since()).toContain('\rfirst-line\r\n')
  })

  test('an allowed line that switches to the alternate screen does not stop the gating', async () => {
    const victim = `/tmp/warden-alt-victim-${process.pid}`
    await shell.type(`touch ${victim}\r`)
    await waitFor(() => existsSync(victim), 'the victim file')
    audit.clear()
    shell.mark()
    // printf is allowed; its output switches the terminal to the alternate screen, bash keeps reading lines.
    await shell.type("printf '\\e[?1049h'\r")
    await waitFor(
      () => shell.since().includes('\x1b[?1049h') && atPrompt(shell.since()),
      'the prompt on the alternate screen',
    )
    expect(audit.expectRecord({ command: "printf '\\e[?1049h'" }).outcome?.status).toBe('ok')
    shell.mark()
    await shell.type(`rm -rf ${victim}\r`)
    await waitFor(() => shell.since().includes('warden: denied by no-rm'), 'the notice')
    expect(audit.expectRecord({ action: 'ssh.shell', command: `rm -rf ${victim}` }).outcome?.status).toBe(
      'denied',
    )
    expect(existsSync(victim)).toBe(true)
    // Still gated and usable; back to the normal screen.
    shell.mark()
    await shell.type("printf '\\e[?1049l'; echo back-to-normal\r")
    await waitFor(() => shell.since().includes('\x1b[?1049lback-to-normal\r\n'), 'the shell to answer')
    await waitFor(() => atPrompt(shell.since()), 'the prompt')
    rmSync(victim, { force: true })
  })

  test('an allowed full-screen program gets its keys ungated; the next line is gated again', async () => {
    const victim = `/tmp/warden-less-victim-${process.pid}`
    await shell.type(`touch ${victim}\r`)
    await waitFor(() => existsSync(victim), 'the victim file')
    await waitFor(() => atPrompt(shell.since()), 'the prompt')
    audit.clear()
    shell.mark()
    await shell.type('less /etc/passwd\r')
    await waitFor(() => shell.since().includes('\x1b[?1049h'), 'less on the alternate screen')
    await new Promise((r) => setTimeout(r, 300))
    // A search inside less: its Enter is less's, not a shell line.
    await shell.type('/root\r')
    await new Promise((r) => setTimeout(r, 300))
    expect(shellLines()).toEqual(['less /etc/passwd'])
    // `q` ends less; what follows in the same write is shell input again, and decided.
    shell.mark()
    await shell.type(`qrm -rf ${victim}\r`)
    await waitFor(() => shell.since().includes('\x1b[?1049l'), 'less to end')
    await waitFor(() => /warden: (denied|could not read)/.test(shell.since()), 'the notice')
    expect(existsSync(victim)).toBe(true)
    shell.mark()
    await shell.type('echo after-less\r')
    await waitFor(() => shell.since().includes('\rafter-less\r\n'), 'the shell to answer')
    expect(shellLines()).toContain('echo after-less')
    rmSync(victim, { force: true })
  })

  test('the shell session is recorded as a valid asciicast v2 file linked from its audit record', async () => {
    await new Promise<void>((resolve) => {
      shell.channel.once('close', () => resolve())
      shell.channel.close()
    })
    const open = audit.expectRecord({ action: 'ssh.shell', command: '' })
    expect(open.outcome?.status).toBe('ok')
    const lines = readFileSync(open.recording as string, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    const [header, ...events] = lines
    expect(header).toMatchObject({ version: 2, width: 100, height: 30, env: { TERM: 'xterm' } })
    let last = 0
    for (const event of events) {
      expect(event).toHaveLength(3)
      expect(event[1]).toBe('o')
      expect(typeof event[2]).toBe('string')
      expect(event[0]).toBeGreaterThanOrEqual(last)
      last = event[0]
    }
    const shown = events.map((e: unknown[]) => e[2]).join('')
    expect(shown).toContain('hello-from-shell')
    expect(shown).toContain('warden: denied by no-rm')
  })
})

describe('sftp', () => {
  let sftp: SFTPWrapper
  beforeAll(async () => {
    mkdirSync(scratch, { recursive: true })
    const { uid, gid } = statSync(`/home/${LOGIN}`)
    chownSync(scratch, uid, gid)
    const client = await connect()
    sftp = await new Promise((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))))
  })
  afterAll(() => rmSync(scratch, { recursive: true, force: true }))

  const call = <T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void) =>
    new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))))

  test('operations inside the allowed folder run and are audited with op and path', async () => {
    audit.clear()
    await call((cb) => sftp.writeFile(`${scratch}/a.txt`, 'hello sftp', cb))
    expect(readFileSync(`${scratch}/a.txt`, 'utf8')).toBe('hello sftp')
    expect(String(await call<Buffer>((cb) => sftp.readFile(`${scratch}/a.txt`, cb)))).toBe('hello sftp')
    const list = await call<{ filename: string }[]>((cb) => sftp.readdir(scratch, cb))
    expect(list.map((e) => e.filename)).toContain('a.txt')
    await call((cb) => sftp.mkdir(`${scratch}/sub`, cb))
    expect(audit.filter({ action: 'sftp.write' }).map((r) => r.facts)).toEqual([
      { op: 'write', path: `${scratch}/a.txt` },
      { op: 'mkdir', path: `${scratch}/sub` },
    ])
    audit.expectRecord({
      action: 'sftp.read',
      facts: { op: 'read', path: `${scratch}/a.txt` },
      outcome: { status: 'ok' },
    })
    const listed = audit.expectRecord({ action: 'sftp.read', facts: { op: 'list', path: scratch } })
    expect(leases.map((l) => l.id)).toContain(listed.lease)
  })

  test('reads outside it are denied, also through ../', async () => {
    await expect(call((cb) => sftp.readFile('/etc/hostname', cb))).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    await expect(call((cb) => sftp.readFile(`${scratch}/../../etc/hostname`, cb))).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    audit.expectRecord({
      action: 'sftp.read',
      facts: { path: '/etc/hostname' },
      outcome: { status: 'denied' },
    })
  })

  test('remove is decided per path; rename needs both ends', async () => {
    writeFileSync(`${scratch}/b.keep`, 'keep me')
    writeFileSync(`${scratch}/c.tmp`, 'drop me')
    await expect(call((cb) => sftp.unlink(`${scratch}/b.keep`, cb))).rejects.toMatchObject({
      rule: 'sftp-no-remove',
    })
    expect(existsSync(`${scratch}/b.keep`)).toBe(true)
    await call((cb) => sftp.unlink(`${scratch}/c.tmp`, cb))
    expect(existsSync(`${scratch}/c.tmp`)).toBe(false)
    await expect(
      call((cb) => sftp.rename(`${scratch}/a.txt`, `/tmp/escaped-${process.pid}`, cb)),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    expect(existsSync(`${scratch}/a.txt`)).toBe(true)
    await call((cb) => sftp.rename(`${scratch}/a.txt`, `${scratch}/renamed.txt`, cb))
    expect(existsSync(`${scratch}/renamed.txt`)).toBe(true)
  })

  test('streams are decided before any byte moves', async () => {
    const chunks: Buffer[] = []
    await new Promise<void>((resolve, reject) =>
      sftp
        .createReadStream(`${scratch}/renamed.txt`)
        .on('data', (d: Buffer) => chunks.push(d))
        .on('end', resolve)
        .on('error', reject),
    )
    expect(Buffer.concat(chunks).toString()).toBe('hello sftp')
    const denied = sftp.createWriteStream(`/tmp/warden-outside-${process.pid}`)
    const error = await new Promise<Error>((resolve) => denied.on('error', resolve))
    expect(error).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    expect(existsSync(`/tmp/warden-outside-${process.pid}`)).toBe(false)
  })

  test('links are decided at both ends: one pointing outside the folder is refused and not created', async () => {
    const outside = `/tmp/warden-link-target-${process.pid}`
    writeFileSync(outside, 'outside')
    const { uid, gid } = statSync(`/home/${LOGIN}`)
    chownSync(outside, uid, gid) // the login's own file, so sshd would link it
    const present = (p: string) => {
      try {
        lstatSync(p)
        return true
      } catch {
        return false
      }
    }
    try {
      audit.clear()
      await expect(call((cb) => sftp.symlink(outside, `${scratch}/abs-link`, cb))).rejects.toMatchObject({
        code: 'ERR_WARDEN_DENIED',
      })
      audit.expectRecord({
        action: 'sftp.write',
        facts: { op: 'write', path: outside },
        outcome: { status: 'denied' },
      })
      // A relative target is resolved from the link's folder.
      await expect(
        call((cb) => sftp.symlink(`../${path.basename(outside)}`, `${scratch}/rel-link`, cb)),
      ).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
      await expect(
        call((cb) => sftp.ext_openssh_hardlink(outside, `${scratch}/hard-link`, cb)),
      ).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
      for (const name of ['abs-link', 'rel-link', 'hard-link'])
        expect(present(`${scratch}/${name}`)).toBe(false)
      // Both ends inside the folder: allowed.
      writeFileSync(`${scratch}/target.txt`, 'inside')
      await call((cb) => sftp.symlink('target.txt', `${scratch}/ok-link`, cb))
      expect(readlinkSync(`${scratch}/ok-link`)).toBe('target.txt')
      const allowed = audit.filter({ action: 'sftp.write', outcome: { status: 'ok' } }).map((r) => r.facts)
      expect(allowed).toEqual(
        expect.arrayContaining([
          { op: 'write', path: `${scratch}/target.txt` },
          { op: 'write', path: `${scratch}/ok-link` },
        ]),
      )
      expect(allowed).toHaveLength(2)
    } finally {
      rmSync(outside, { force: true })
    }
  })

  test('methods without a request model are refused', () => {
    expect(() =>
      (sftp as unknown as { ext_users_groups(...a: unknown[]): void }).ext_users_groups([0], [0], () => {}),
    ).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_UNSUPPORTED' }))
  })
})

describe('forwarding', () => {
  test('port forwarding is decided as ssh.forward (denied here) and never opened', async () => {
    const client = await connect()
    audit.clear()
    await expect(
      new Promise((resolve, reject) =>
        client.forwardOut('127.0.0.1', 0, '127.0.0.1', 5432, (e, ch) => (e ? reject(e) : resolve(ch))),
      ),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    audit.expectRecord({
      action: 'ssh.forward',
      facts: { host: '127.0.0.1', port: 5432 },
      outcome: { status: 'denied' },
    })
    await expect(
      new Promise((resolve, reject) =>
        client.forwardIn('127.0.0.1', 0, (e, port) => (e ? reject(e) : resolve(port))),
      ),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    await expect(
      new Promise((resolve, reject) => client.subsys('netconf', (e, ch) => (e ? reject(e) : resolve(ch)))),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_UNSUPPORTED' })
  })
})

describe('connection owner', () => {
  const fromSession = <T>(s: Session, open: (done: (err: Error | undefined, value?: T) => void) => void) =>
    s.run(
      () =>
        new Promise<T>((resolve, reject) => open((err, value) => (err ? reject(err) : resolve(value as T)))),
    )

  test("a Client connected in one principal's session never runs another's commands on its credential", async () => {
    const alice = await warden.session({
      principal: { id: 'deployer', type: 'service', groups: ['ops'], claims: { scratch } },
    })
    const bob = await warden.session({ principal: { id: 'bob', type: 'service', claims: { scratch } } })
    // Same id, other groups: a policy (or a broker) tells them apart, so the connection does too.
    const alice2 = await warden.session({
      principal: { id: 'deployer', type: 'service', groups: ['admins'], claims: { scratch } },
    })
    const client = new Client(warden) // the ambient session of each call
    clients.push(client)
    try {
      await alice.run(
        () =>
          new Promise((resolve, reject) => {
            client.once('ready', resolve).once('error', reject)
            client.connect({ host: '127.0.0.1', port: sshd.port, resource: 'web-1', recordings })
          }),
      )
      audit.clear()
      expect((await alice.run(() => exec(client, 'echo mine'))).stdout).toBe('mine\n')
      // Every command on the connection names the lease it runs on.
      const leaseId = audit.expectRecord({ action: 'ssh.exec', command: 'echo mine' }).lease
      expect(leaseId).toEqual(expect.any(String))
      expect(leases.map((l) => l.id)).toContain(leaseId)
      for (const other of [bob, alice2]) {
        audit.clear()
        const refused = { code: 'ERR_WARDEN_DENIED', rule: 'warden:connection-owner' }
        await expect(other.run(() => exec(client, 'id -un'))).rejects.toMatchObject(refused)
        await expect(
          fromSession<ClientChannel>(other, (done) => client.shell(done as never)),
        ).rejects.toMatchObject(refused)
        await expect(
          fromSession(other, (done) => client.forwardOut('127.0.0.1', 0, '127.0.0.1', 22, done as never)),
        ).rejects.toMatchObject(refused)
        // Opening the subsystem runs nothing; each operation is a command, refused on this connection.
        const sftp = await fromSession<SFTPWrapper>(other, (done) => client.sftp(done as never))
        await expect(
          fromSession(other, (done) => sftp.readdir(scratch, done as never)),
        ).rejects.toMatchObject(refused)
        sftp.end()
        const records = audit.commands()
        expect(records.map((r) => [r.action, r.command])).toEqual([
          ['ssh.exec', 'id -un'],
          ['ssh.shell', ''],
          ['ssh.forward', 'forward 127.0.0.1:22'],
          ['sftp.read', `list ${scratch}`],
        ])
        for (const r of records)
          expect(r).toMatchObject({
            principal: { id: other.principal.id, groups: other.principal.groups },
            decision: { effect: 'deny', rule: 'warden:connection-owner' },
            outcome: { status: 'denied' },
          })
      }
      // The owner goes on using it, on the same lease.
      audit.clear()
      expect((await alice.run(() => exec(client, 'echo still-mine'))).stdout).toBe('still-mine\n')
      expect(audit.expectRecord({ action: 'ssh.exec', command: 'echo still-mine' })).toMatchObject({
        lease: leaseId,
        outcome: { status: 'ok' },
      })
    } finally {
      client.end()
      await Promise.all([alice.close(), bob.close(), alice2.close()])
    }
  })
})

describe('secrets', () => {
  test('the issued private keys and the CA key never leak', async () => {
    const client = await connect()
    await exec(client, 'echo canary-check')
    expect(leases.length).toBeGreaterThan(0)
    const canaries = [sshd.caKey.split('\n')[1]]
    for (const lease of leases) {
      if (lease.credential.type !== 'ssh') throw new Error('not ssh')
      const lines = revealSecret(lease.credential.privateKey)
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'))
      canaries.push(...lines)
    }
    const recorded = readdirSync(recordings).map((f) => readFileSync(path.join(recordings, f), 'utf8'))
    const places = [
      audit.lines.join('\n'),
      inspect(client, { depth: 12, showHidden: true }),
      JSON.stringify((client as unknown as { config: unknown }).config ?? {}),
      ...recorded,
    ]
    for (const place of places) for (const canary of canaries) expect(place).not.toContain(canary)
    expect(recorded.length).toBeGreaterThan(0)
  })
})
