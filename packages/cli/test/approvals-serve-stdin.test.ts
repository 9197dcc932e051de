// `approvals serve` reads --reviewers and --signing-key from stdin with "-".
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { INBOX_KEYS, REDIS_URL, REPO, runWarden, SUBPROCESS_TIMEOUT, uniquePrefix } from './helpers.js'

const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url))

/** `warden approvals serve …` with `input` on stdin; resolves with its URL once it listens. */
function serveWithStdin(args: readonly string[], input: string) {
  const child = spawn(
    process.execPath,
    ['--conditions=warden-source', '--import', 'tsx', BIN, 'approvals', 'serve', ...args],
    {
      cwd: REPO,
      env: { ...process.env, WARDEN_INBOX_SIGNING_KEY: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  child.stdin.end(input)
  let out = ''
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  return new Promise<{ url: string; stop: () => Promise<number | null> }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8')
      const match = /approvals inbox on (http:\/\/\S+)/.exec(out)
      if (match)
        resolve({
          url: match[1],
          stop: () => {
            child.kill('SIGTERM')
            return exited
          },
        })
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    exited.then((code) => reject(new Error(`serve exited ${code} before listening:\n${out}`)))
  })
}

describe('warden approvals serve with stdin', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('takes the reviewers file from stdin (--reviewers -)', async () => {
    const token = 'wrt_stdin-test-token'
    const entry = {
      id: 'erin',
      tokenSha256: createHash('sha256').update(token).digest('hex'),
      groups: ['dba'],
    }
    const inbox = await serveWithStdin(
      [
        '--redis',
        REDIS_URL,
        '--prefix',
        uniquePrefix('stdin'),
        '--port',
        '0',
        '--reviewers',
        '-',
        '--unsigned-dev',
      ],
      `reviewers:\n  - ${JSON.stringify(entry)}\n`,
    )
    try {
      const who = await fetch(new URL('/api/whoami', inbox.url), {
        headers: { authorization: `Bearer ${token}` },
      })
      expect(await who.json()).toMatchObject({ reviewer: 'erin' })
    } finally {
      await inbox.stop()
    }
  })

  it('takes the signing key from stdin (--signing-key -)', async () => {
    const inbox = await serveWithStdin(
      [
        '--redis',
        REDIS_URL,
        '--prefix',
        uniquePrefix('stdin-key'),
        '--port',
        '0',
        '--secret',
        'a long shared secret for tests',
        '--signing-key',
        '-',
      ],
      INBOX_KEYS.privateKey,
    )
    await inbox.stop()
    // the key is really read from stdin: another text there is refused
    const r = await runWarden(
      [
        'approvals',
        'serve',
        '--redis',
        REDIS_URL,
        '--port',
        '0',
        '--secret',
        'a long shared secret for tests',
        '--signing-key',
        '-',
      ],
      { WARDEN_INBOX_SIGNING_KEY: '' },
      'not a key',
    )
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('not a PKCS8 PEM private key')
  })

  it('refuses a malformed reviewers document on stdin, and stdin for both inputs, exit 2', async () => {
    const bad = await runWarden(
      ['approvals', 'serve', '--redis', REDIS_URL, '--reviewers', '-', '--unsigned-dev'],
      {},
      'reviewers: 3\n',
    )
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('reviewers file <stdin>: expected "reviewers:"')
    const both = await runWarden([
      'approvals',
      'serve',
      '--redis',
      REDIS_URL,
      '--reviewers',
      '-',
      '--signing-key',
      '-',
    ])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('stdin ("-") can carry one input')
  })
})
