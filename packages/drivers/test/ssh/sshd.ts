// Test helper: a throwaway OpenSSH sshd on a free loopback port, trusting a throwaway user CA.
// Used by the ssh tests and bench/ssh. Never used in production code.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export const SSHD = '/usr/sbin/sshd'
/** The login account the tests use (created once, shared by every test file; never given a password). */
export const LOGIN = 'wardenssh'

export interface TestSshd {
  readonly port: number
  readonly dir: string
  /** `ssh-ed25519 AAAA…` line of the host key, for pinning. */
  readonly hostKey: string
  /** CA private key (OpenSSH format) trusted by this sshd. */
  readonly caKey: string
  readonly caPublicKey: string
  /** sshd's log (stderr), for asserting why a login failed. */
  log(): string
  stop(): Promise<void>
}

export function ensureLoginUser(): void {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  // flock: test files run in parallel and may all try to create the user.
  execFileSync('flock', [
    '/tmp/warden-ssh-useradd.lock',
    'sh',
    '-c',
    `id ${LOGIN} >/dev/null 2>&1 || useradd -m -s /bin/bash ${LOGIN}; usermod -p '*' ${LOGIN}`,
  ])
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file])
}

export async function startSshd(extraConfig: readonly string[] = []): Promise<TestSshd> {
  ensureLoginUser()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'warden-sshd-'))
  keygen(path.join(dir, 'host'))
  keygen(path.join(dir, 'ca'))
  let lastError: Error | undefined
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    writeFileSync(
      path.join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(dir, 'host')}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `TrustedUserCAKeys ${path.join(dir, 'ca.pub')}`,
        'AuthorizedKeysFile none',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin no',
        'UsePAM no',
        'StrictModes no',
        'AllowTcpForwarding yes',
        'PermitTTY yes',
        'PrintMotd no',
        'PrintLastLog no',
        'Subsystem sftp internal-sftp',
        'LogLevel VERBOSE',
      ]
        // sshd takes the first value of a keyword: extra lines replace the defaults they name.
        .filter((line) => !extraConfig.some((extra) => extra.split(' ')[0] === line.split(' ')[0]))
        .concat(extraConfig)
        .join('\n'),
    )
    const child = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let log = ''
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString()
    })
    try {
      await waitListening(child, () => log)
      return {
        port,
        dir,
        hostKey: readFileSync(path.join(dir, 'host.pub'), 'utf8').trim(),
        caKey: readFileSync(path.join(dir, 'ca'), 'utf8'),
        caPublicKey: readFileSync(path.join(dir, 'ca.pub'), 'utf8').trim(),
        log: () => log,
        stop: () => stop(child, dir),
      }
    } catch (err) {
      lastError = err as Error
      child.kill('SIGTERM')
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError ?? new Error('sshd did not start')
}

async function waitListening(child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${log()}`)
    if (log().includes('Server listening')) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`sshd did not start listening: ${log()}`)
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }
  rmSync(dir, { recursive: true, force: true })
}

/** Signs `publicKeyFile` with the CA using OpenSSH's own ssh-keygen (the reference implementation). */
export function signWithSshKeygen(
  sshd: TestSshd,
  publicKeyFile: string,
  validity: string,
  principal = LOGIN,
): string {
  const caFile = path.join(sshd.dir, 'ca')
  execFileSync('ssh-keygen', [
    '-q',
    '-s',
    caFile,
    '-I',
    'test',
    '-n',
    principal,
    '-V',
    validity,
    publicKeyFile,
  ])
  return readFileSync(publicKeyFile.replace(/\.pub$/, '-cert.pub'), 'utf8').trim()
}
