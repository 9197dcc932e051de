// Issue 19 part 2 over the real sshd: output is masked as a stream, not line by line. `cat` of a
// PEM private key, the same key in 10-character lines (`fold -w10`), and `grep --color=always`
// output whose colour codes cut a secret leave no part of the secret in the output, the recording
// or the audit record. Masks as in examples/policies (secrets-anywhere).
import { generateKeyPairSync } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createWarden, memorySink, Secret, type Session, type Warden } from '@warden/core'
import { Client, sshCaBroker } from '@warden/drivers/ssh'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { LOGIN, startSshd, type TestSshd } from './sshd.js'

const POLICY = `
defaults: { effect: deny }
rules:
  - name: reads
    resources: ["ssh:web-*"]
    when: 'action == "ssh.exec" && shell.parsed && shell.programs.all(p, p in ["cat", "fold", "grep", "echo"])'
    effect: allow
masks:
  - name: secrets-anywhere
    detectors: [jwt, aws_access_key, private_key, credit_card]
    strategy: redact
`
const PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
const RSA = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
  type: 'pkcs1',
  format: 'pem',
}) as string
const BODY = [...PEM.split('\n').slice(1, -2), ...RSA.split('\n').slice(1, -2)]
const CARD = '4111 1111 1111 1111'

let sshd: TestSshd
let dir: string
let recordings: string
let warden: Warden
let audit: ReturnType<typeof memorySink>
let session: Session
const clients: Client[] = []

beforeAll(async () => {
  sshd = await startSshd()
  dir = mkdtempSync(path.join(os.tmpdir(), `w19-ssh-${process.pid}-`))
  recordings = mkdtempSync(path.join(os.tmpdir(), `w19-rec-${process.pid}-`))
  // Readable by the login account (the suite runs as root).
  chmodSync(dir, 0o755)
  writeFileSync(path.join(dir, 'id.pem'), `# deploy key\n${PEM}${RSA}# end\n`, { mode: 0o644 })
  writeFileSync(path.join(dir, 'billing.log'), `ok line\npaid with ${CARD} today\nother line\n`, {
    mode: 0o644,
  })
  const broker = sshCaBroker({
    caKey: new Secret(sshd.caKey),
    principals: { deployer: { logins: [LOGIN] } },
    ttl: '5m',
    hostKeys: { 'web-1': [sshd.hostKey] },
  })
  audit = memorySink()
  warden = createWarden({ policy: compilePolicy(POLICY), broker, audit })
  session = await warden.session({ principal: { id: 'deployer', type: 'service' } })
})

afterAll(async () => {
  for (const c of clients) c.end()
  await warden?.close()
  await sshd?.stop()
  rmSync(dir, { recursive: true, force: true })
  rmSync(recordings, { recursive: true, force: true })
})

function connect(): Promise<Client> {
  const client = new Client(session)
  clients.push(client)
  return new Promise((resolve, reject) => {
    client.once('ready', () => resolve(client)).once('error', reject)
    client.connect({ host: '127.0.0.1', port: sshd.port, resource: 'web-1', recordings })
  })
}

function exec(client: Client, command: string): Promise<{ stdout: string; code: number | undefined }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err) return reject(err)
      const out = { stdout: '', code: undefined as number | undefined }
      ch.on('data', (d: Buffer) => {
        out.stdout += d
      })
      ch.stderr.on('data', () => {})
      ch.on('exit', (code: number) => {
        out.code = code
      })
      ch.on('close', () => resolve(out))
    })
  })
}

/** No base64 line of either key, nor any 10-character piece of one, anywhere in `text`. */
function noKey(label: string, text: string): void {
  for (const line of BODY) {
    expect(text, label).not.toContain(line)
    for (let i = 0; i + 10 <= line.length; i += 10) expect(text, label).not.toContain(line.slice(i, i + 10))
  }
}

function everywhere(label: string, stdout: string): void {
  noKey(`${label}: output`, stdout)
  const record = audit.records.at(-1)
  noKey(`${label}: audit`, JSON.stringify(audit.records))
  noKey(`${label}: recording`, readFileSync(record?.recording as string, 'utf8'))
}

describe('ssh output masked as a stream (real sshd)', () => {
  test('cat of a file with two PEM private keys: each block replaced whole, the rest kept', async () => {
    const client = await connect()
    const r = await exec(client, `cat ${dir}/id.pem`)
    expect(r.code).toBe(0)
    everywhere('cat', r.stdout)
    expect(r.stdout).toBe('# deploy key\n[redacted]\n[redacted]\n# end\n')
    // Both keys counted; the report names no value.
    expect(audit.records.at(-1)?.masked).toEqual([{ column: '(text)', strategy: 'redact', count: 2 }])
  })

  test('the key printed in 10-character lines (fold -w10): BEGIN and END split over lines', async () => {
    const client = await connect()
    const r = await exec(client, `fold -w10 ${dir}/id.pem`)
    expect(r.code).toBe(0)
    everywhere('fold', r.stdout)
    expect(r.stdout.startsWith('# deploy k\ney\n')).toBe(true)
    expect(r.stdout.endsWith('# end\n')).toBe(true)
  })

  test('grep --color=always: the colour codes that cut a secret do not hide it', async () => {
    const client = await connect()
    const r = await exec(client, `grep --color=always -e 4111 -e BEGIN -A3 ${dir}/billing.log ${dir}/id.pem`)
    expect(r.code).toBe(0)
    everywhere('grep', r.stdout)
    expect(r.stdout).not.toContain(CARD)
    const sgr = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[mK]`, 'g')
    expect(r.stdout.replace(sgr, '')).not.toMatch(/4111.{0,12}1111/)
    // Lines with nothing to mask keep their colours.
    expect(r.stdout).toContain('\x1b[')
  })
})
