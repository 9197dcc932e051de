import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { REDIS_URL, runWarden, SUBPROCESS_TIMEOUT, serveInbox, tempDir, uniquePrefix } from './helpers.js'

const tmp = tempDir('reviewers')
afterAll(() => tmp.remove())

describe('warden approvals reviewer-token', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('prints a fresh token and the entry that holds only its sha256; serve accepts that token', async () => {
    const made = await runWarden(['approvals', 'reviewer-token', 'erin', '--groups', 'dba, sre'])
    expect(made.code).toBe(0)
    const token = /^\s+(wrt_[A-Za-z0-9_-]{43})$/m.exec(made.stdout)?.[1]
    expect(token).toBeDefined()
    const entry = JSON.parse(/^\s+- (\{.*\})$/m.exec(made.stdout)?.[1] ?? 'null')
    expect(entry).toEqual({
      id: 'erin',
      tokenSha256: createHash('sha256').update(token!).digest('hex'),
      groups: ['dba', 'sre'],
    })
    const again = await runWarden(['approvals', 'reviewer-token', 'erin'])
    expect(again.stdout).not.toContain(token!)
    // The printed line pasted under "reviewers:" is a working reviewers file.
    const file = tmp.write('reviewers.yaml', `reviewers:\n  - ${JSON.stringify(entry)}\n`)
    const inbox = await serveInbox([
      '--redis',
      REDIS_URL,
      '--prefix',
      uniquePrefix('serve-tokens'),
      '--port',
      '0',
      '--reviewers',
      file,
    ])
    try {
      expect(inbox.output()).toContain('reviewers sign in with their reviewer token')
      const who = await fetch(new URL('/api/whoami', inbox.url), {
        headers: { authorization: `Bearer ${token}` },
      })
      expect(await who.json()).toMatchObject({ reviewer: 'erin' })
      const wrong = await fetch(new URL('/api/whoami', inbox.url), {
        headers: { authorization: `Bearer ${token}x` },
      })
      expect(wrong.status).toBe(401)
    } finally {
      await inbox.stop()
    }
  })

  it('refuses a bad reviewer id, a missing reviewers file and a malformed entry', async () => {
    const bad = await runWarden(['approvals', 'reviewer-token', 'not a name'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('reviewer id "not a name"')
    const missing = await runWarden([
      'approvals',
      'serve',
      '--redis',
      REDIS_URL,
      '--reviewers',
      `${tmp.dir}/nope.yaml`,
    ])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('cannot read reviewers file')
    const file = tmp.write('bad.yaml', 'reviewers:\n  - { id: erin, tokenSha256: abc }\n')
    const malformed = await runWarden(['approvals', 'serve', '--redis', REDIS_URL, '--reviewers', file])
    expect(malformed.code).toBe(2)
    expect(malformed.stderr).toContain('reviewer #1 (erin): "tokenSha256" must be the 64-hex-digit SHA-256')
    const shape = tmp.write('shape.yaml', 'erin: abc\n')
    const noList = await runWarden(['approvals', 'serve', '--redis', REDIS_URL, '--reviewers', shape])
    expect(noList.code).toBe(2)
    expect(noList.stderr).toContain('expected "reviewers:"')
  })
})

describe('warden approvals serve (errors)', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('refuses to start without reviewer authentication', async () => {
    const r = await runWarden(['approvals', 'serve', '--redis', REDIS_URL, '--port', '0'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('reviewers must authenticate')
  })

  it('refuses a short secret, both auth modes at once, JWKS without issuer, and a bad port', async () => {
    const short = await runWarden(['approvals', 'serve', '--redis', REDIS_URL, '--secret', 'short'])
    expect(short.code).toBe(2)
    expect(short.stderr).toContain('at least 12 characters')
    const both = await runWarden([
      'approvals',
      'serve',
      '--redis',
      REDIS_URL,
      '--secret',
      'x'.repeat(16),
      '--jwks',
      'https://idp/jwks',
    ])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('give one of --reviewers, --jwks or --secret')
    const noIssuer = await runWarden([
      'approvals',
      'serve',
      '--redis',
      REDIS_URL,
      '--jwks',
      'https://idp/jwks',
      '--audience',
      'a',
    ])
    expect(noIssuer.code).toBe(2)
    expect(noIssuer.stderr).toContain('missing --issuer')
    const port = await runWarden(['approvals', 'serve', '--redis', REDIS_URL, '--port', '70000'], {
      WARDEN_INBOX_SECRET: 'x'.repeat(16),
    })
    expect(port.code).toBe(2)
    expect(port.stderr).toContain('--port must be 0-65535')
  })

  it('refuses to start without a decision-signing key, with a key that is not Ed25519, or with both modes', async () => {
    const secret = { WARDEN_INBOX_SECRET: 'x'.repeat(16) }
    const serve = ['approvals', 'serve', '--redis', REDIS_URL, '--port', '0']
    const none = await runWarden(serve, { ...secret, WARDEN_INBOX_SIGNING_KEY: '' })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('decisions must be signed: give --signing-key <file>')
    const notAKey = tmp.write('not-a-key.pem', 'hello\n')
    const bad = await runWarden([...serve, '--signing-key', notAKey], {
      ...secret,
      WARDEN_INBOX_SIGNING_KEY: '',
    })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('not a PKCS8 PEM private key')
    const missing = await runWarden([...serve, '--signing-key', `${tmp.dir}/nope.key`], {
      ...secret,
      WARDEN_INBOX_SIGNING_KEY: '',
    })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('cannot read signing key')
    const both = await runWarden([...serve, '--unsigned-dev', '--signing-key', notAKey], secret)
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('give --signing-key or --unsigned-dev, not both')
  })

  it('exits 2 when Redis cannot be reached', async () => {
    const r = await runWarden(['approvals', 'serve', '--redis', 'redis://127.0.0.1:1', '--port', '0'], {
      WARDEN_INBOX_SECRET: 'x'.repeat(16),
    })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('cannot use the approval store at redis://127.0.0.1:1')
  })

  it('exits 2 when the port is taken', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as { port: number }).port
    try {
      const r = await runWarden(
        [
          'approvals',
          'serve',
          '--redis',
          REDIS_URL,
          '--prefix',
          uniquePrefix('serve-port'),
          '--port',
          String(port),
        ],
        { WARDEN_INBOX_SECRET: 'x'.repeat(16) },
      )
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}`)
    } finally {
      blocker.close()
    }
  })
})
