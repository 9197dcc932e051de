// The ssh2 internals of src/ssh/ssh2-internals.ts, checked against a real OpenSSH sshd.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { Client } from 'ssh2'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  certificateKey,
  enableCertificateAuth,
  hookChannelInput,
  hookChannelOutput,
  SSH2_VERSION,
  ssh2Internals,
} from '../../src/ssh/ssh2-internals.js'
import { LOGIN, signWithSshKeygen, startSshd, type TestSshd } from './sshd.js'

let sshd: TestSshd
beforeAll(async () => {
  sshd = await startSshd()
})
afterAll(() => sshd?.stop())

function keypair(type: 'ed25519' | 'rsa', name: string): { privateKey: string; publicFile: string } {
  const file = path.join(sshd.dir, name)
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(type === 'rsa' ? ['-b', '2048'] : []),
    '-N',
    '',
    '-C',
    '',
    '-f',
    file,
  ])
  return { privateKey: readFileSync(file, 'utf8'), publicFile: `${file}.pub` }
}

/** Logs in with a raw ssh2 client and runs `id -un`; resolves the output or rejects with the auth error. */
function login(
  key: Parameters<typeof certificateKey>[0] | null,
  certificate: string | null,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = new Client()
    client
      .on('ready', () => {
        client.exec('id -un', (err, ch) => {
          if (err) return reject(err)
          let out = ''
          ch.on('data', (d: Buffer) => {
            out += d
          }).on('close', () => {
            client.end()
            resolve(out.trim())
          })
        })
      })
      .on('error', reject)
    client.connect({
      host: '127.0.0.1',
      port: sshd.port,
      username: LOGIN,
      ...(certificate === null
        ? { privateKey: key ?? '' }
        : {
            authHandler: [
              { type: 'publickey', username: LOGIN, key: certificateKey(key ?? '', certificate) } as never,
            ],
          }),
    })
    if (certificate !== null) enableCertificateAuth(client)
  })
}

describe('ssh2 internals', () => {
  test('the installed ssh2 is the pinned version and exposes the internals', () => {
    const require = createRequire(import.meta.url)
    expect(require('ssh2/package.json').version).toBe(SSH2_VERSION)
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    // Pinned exactly, not a range: the peer users install and the version the tests run.
    expect(manifest.peerDependencies.ssh2).toBe(SSH2_VERSION)
    expect(manifest.devDependencies.ssh2).toBe(SSH2_VERSION)
    expect(typeof ssh2Internals().sendPacket).toBe('function')
  })

  test('stock ssh2 cannot log in with the key alone (why the internals are needed)', async () => {
    const { privateKey, publicFile } = keypair('ed25519', 'plain')
    signWithSshKeygen(sshd, publicFile, '-1m:+5m')
    await expect(login(privateKey, null)).rejects.toThrow(/authentication methods failed/)
  })

  test('ed25519 user certificate (signed by ssh-keygen) logs in', async () => {
    const { privateKey, publicFile } = keypair('ed25519', 'ed')
    const cert = signWithSshKeygen(sshd, publicFile, '-1m:+5m')
    await expect(login(privateKey, cert)).resolves.toBe(LOGIN)
    expect(sshd.log()).toMatch(/Accepted certificate ID "test"/)
  })

  test('RSA user certificate logs in (rsa-sha2-256 signature)', async () => {
    const { privateKey, publicFile } = keypair('rsa', 'rsa')
    const cert = signWithSshKeygen(sshd, publicFile, '-1m:+5m')
    await expect(login(privateKey, cert)).resolves.toBe(LOGIN)
  })

  test('an expired certificate is refused by sshd', async () => {
    const { privateKey, publicFile } = keypair('ed25519', 'expired')
    const cert = signWithSshKeygen(sshd, publicFile, '20200101:20200102')
    await expect(login(privateKey, cert)).rejects.toThrow(/authentication methods failed/)
    expect(sshd.log()).toMatch(/expired/i)
  })

  test('a certificate for another login is refused', async () => {
    const { privateKey, publicFile } = keypair('ed25519', 'other')
    const cert = signWithSshKeygen(sshd, publicFile, '-1m:+5m', 'someone-else')
    await expect(login(privateKey, cert)).rejects.toThrow(/authentication methods failed/)
  })

  test('a certificate for a different key is rejected before connecting', () => {
    const a = keypair('ed25519', 'a')
    const b = keypair('rsa', 'b')
    const cert = signWithSshKeygen(sshd, b.publicFile, '-1m:+5m')
    expect(() => certificateKey(a.privateKey, cert)).toThrow(/certificate for a ssh-ed25519 key/)
  })
})

test('channel hooks see every byte in and out of a real channel', async () => {
  const { privateKey, publicFile } = keypair('ed25519', 'hooks')
  const cert = signWithSshKeygen(sshd, publicFile, '-1m:+5m')
  const client = new Client()
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject)
    client.connect({
      host: '127.0.0.1',
      port: sshd.port,
      username: LOGIN,
      authHandler: [{ type: 'publickey', username: LOGIN, key: certificateKey(privateKey, cert) } as never],
    })
    enableCertificateAuth(client)
  })
  const output = await new Promise<string>((resolve, reject) =>
    client.exec('cat', (err, ch) => {
      if (err) return reject(err)
      // In: the gate rewrites what the application writes. Out: the transform upper-cases what arrives.
      hookChannelInput(ch, (chunk, send) => send(chunk.toString().replace('secret', 'public')))
      hookChannelOutput(ch, (chunk, _stream, push) =>
        push(chunk && Buffer.from(chunk.toString().toUpperCase())),
      )
      let out = ''
      ch.on('data', (d: Buffer) => {
        out += d
      }).on('close', () => resolve(out))
      ch.end('a secret line\n')
    }),
  )
  client.end()
  expect(output).toBe('A PUBLIC LINE\n')
})
