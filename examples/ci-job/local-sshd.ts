// A stand-in deploy host for running this example offline: OpenSSH's sshd on a free loopback port,
// trusting a throwaway user CA (the CA key goes to Warden's sshCaBroker, never to the job).
// Needs /usr/sbin/sshd and root (it creates the login account). Not part of a real CI setup.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export const DEPLOY_LOGIN = 'wardenssh'

export interface LocalSshd {
  readonly port: number
  readonly hostKey: string
  readonly caKey: string
  stop(): Promise<void>
}

export async function startLocalSshd(): Promise<LocalSshd> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  // flock: other processes (tests) may create the same account at the same time
  execFileSync('flock', [
    '/tmp/warden-ssh-useradd.lock',
    'sh',
    '-c',
    `id ${DEPLOY_LOGIN} >/dev/null 2>&1 || useradd -m -s /bin/bash ${DEPLOY_LOGIN}; usermod -p '*' ${DEPLOY_LOGIN}`,
  ])
  const dir = mkdtempSync(path.join(os.tmpdir(), 'warden-ci-sshd-'))
  for (const name of ['host', 'ca'])
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', path.join(dir, name)])
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
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
    ].join('\n'),
  )
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString()
  })
  await listening(child, () => log)
  return {
    port,
    hostKey: readFileSync(path.join(dir, 'host.pub'), 'utf8').trim(),
    caKey: readFileSync(path.join(dir, 'ca'), 'utf8'),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

async function listening(child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${log()}`)
    if (log().includes('Server listening')) return
    await new Promise((r) => setTimeout(r, 25))
  }
  child.kill('SIGTERM')
  throw new Error(`sshd did not start: ${log()}`)
}
