import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { REDIS_URL, runWarden, SUBPROCESS_TIMEOUT, uniquePrefix } from './helpers.js'

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
    expect(both.stderr).toContain('either --secret or --jwks')
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
