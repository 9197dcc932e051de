import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { gzipSync } from 'node:zlib'
import {
  autoApprove,
  type Broker,
  callbackApprover,
  createWarden,
  type Lease,
  memorySink,
  Secret,
  type Session,
  type Warden,
} from '@warden/core'
import { createFetch, describeHttp } from '@warden/drivers/fetch'
import { compilePolicy } from '@warden/policy'
import { Agent } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'

interface Seen {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
  readonly apiKey: string | undefined
  readonly cookie: string | undefined
}

async function server(routes: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void) {
  const seen: Seen[] = []
  const s = http.createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    seen.push({
      method: req.method!,
      path: req.url!,
      authorization: req.headers.authorization,
      apiKey: req.headers['x-api-key'] as string | undefined,
      cookie: req.headers.cookie,
    })
    routes(req, res, Buffer.concat(chunks).toString())
  })
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const origin = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
  return { origin, seen, close: () => new Promise<void>((r) => s.close(() => r())) }
}

const json = (res: http.ServerResponse, value: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(value))
}

let api: Awaited<ReturnType<typeof server>>
let other: Awaited<ReturnType<typeof server>>
const canary = `canary-token-${randomUUID()}`
const headerCanary = `canary-key-${randomUUID()}`

beforeAll(async () => {
  other = await server((req, res) => {
    if (req.url === '/back') {
      res.writeHead(302, { location: `${api.origin}/whoami` })
      return res.end()
    }
    json(res, { host: 'other', path: req.url })
  })
  api = await server((req, res, body) => {
    const url = new URL(req.url!, 'http://x')
    switch (url.pathname) {
      case '/whoami':
        // Proves the credential arrived without echoing it back.
        return json(res, { authorized: req.headers.authorization === `Bearer ${canary}` })
      case '/masked/user':
        return json(res, {
          user: {
            name: 'Ada',
            email: 'ada@example.com',
            ssn: '123-45-6789',
            note: 'write to bob@example.org',
          },
          list: [{ ssn: '987-65-4321' }],
        })
      case '/masked/gzip': {
        const z = gzipSync(JSON.stringify({ user: { email: 'zip@example.com' } }))
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': z.length,
        })
        return res.end(z)
      }
      case '/masked/ndjson':
        res.writeHead(200, { 'content-type': 'application/x-ndjson' })
        res.write('{"user":{"email":"one@example.com"}}\n')
        res.write('{"user":{"email":"two@exa')
        return setTimeout(() => res.end('mple.com"}}\n'), 5)
      case '/masked/text':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
        res.write('line one mail carol@example.com\r\nline two da')
        return res.end('ve@example.net end\nlast')
      case '/masked/slow-text':
        // The second line is sent only after the client has read the first: proves streaming.
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
        res.write('first for erin@example.com\n')
        return void secondLine.then(() => res.end('second for fred@example.com\n'))
      case '/masked/binary':
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        return res.end(Buffer.from([0, 1, 2, 3]))
      case '/echo/json':
        // A server that echoes the request's credential headers, in a header and the body.
        res.writeHead(200, {
          'content-type': 'application/json',
          'x-echo': String(req.headers.authorization ?? req.headers['x-api-key']),
        })
        return res.end(JSON.stringify({ headers: req.headers, raw: req.headers.authorization }))
      case '/echo/text':
        res.writeHead(200, { 'content-type': 'text/plain' })
        return res.end(`you sent ${req.headers.authorization ?? req.headers['x-api-key']}\nbye`)
      case '/plain/user':
        return json(res, { user: { email: 'ada@example.com' } })
      case '/to-other':
        res.writeHead(302, { location: `${other.origin}/landing` })
        return res.end()
      case '/to-denied':
        res.writeHead(307, { location: `${other.origin}/forbidden` })
        return res.end()
      case '/to-self':
        res.writeHead(301, { location: '/whoami' })
        return res.end()
      case '/see-other':
        res.writeHead(303, { location: '/method' })
        return res.end()
      case '/method':
        return json(res, { method: req.method, body, contentType: req.headers['content-type'] ?? null })
      case '/loop':
        res.writeHead(302, { location: '/loop' })
        return res.end()
      default:
        return json(res, { kind: 'Status', message: 'not found' }, 404)
    }
  })
})

afterAll(async () => {
  await api.close()
  await other.close()
})

function tokenBroker(credential: 'token' | 'headers' = 'token') {
  let issued = 0
  const broker: Broker & { readonly issued: number } = {
    get issued() {
      return issued
    },
    async issue(): Promise<Lease> {
      issued++
      return {
        id: `lease-${issued}`,
        credential:
          credential === 'token'
            ? { type: 'token', token: new Secret(canary) }
            : { type: 'headers', headers: { 'x-api-key': new Secret(headerCanary) } },
        expiresAt: new Date(Date.now() + 60_000),
        renewable: false,
      }
    },
    async revoke() {},
  }
  return broker
}

function policy(otherHost: string) {
  return compilePolicy({
    defaults: { effect: 'deny' },
    rules: [
      { name: 'reads', when: 'http.method == "GET" && http.path != "/forbidden"', effect: 'allow' },
      {
        name: 'posts',
        when: 'http.method == "POST" && http.path in ["/see-other", "/method"]',
        effect: 'allow',
      },
      { name: 'no-deletes', when: 'http.method == "DELETE"', effect: 'deny', reason: 'deletes are blocked' },
      {
        name: 'approve-put',
        when: 'http.method == "PUT"',
        effect: 'approve',
        approval: { approvers: ['ops'], timeout: '1m' },
      },
      {
        name: 'other-forbidden',
        when: `http.host == "${otherHost}" && http.path == "/forbidden"`,
        effect: 'deny',
        reason: 'not there',
      },
    ],
    masks: [
      {
        name: 'pii',
        resources: ['http:*'],
        when: 'http.path.startsWith("/masked")',
        columns: ['user.email', 'ssn'],
        strategy: 'redact',
      },
      {
        name: 'emails',
        resources: ['http:*'],
        when: 'http.path.startsWith("/masked")',
        detectors: ['email'],
        strategy: 'redact',
      },
    ],
  } as any)
}

let warden: Warden
let session: Session
let audit: ReturnType<typeof memorySink>
let broker: ReturnType<typeof tokenBroker>

beforeEach(async () => {
  audit = memorySink()
  broker = tokenBroker()
  warden = createWarden({
    policy: policy(new URL(other.origin).host),
    broker,
    audit,
    approvals: autoApprove(),
  })
  session = await warden.session({ principal: { id: 'svc-test', type: 'service' } })
  return async () => {
    await warden.close()
  }
})

const everything = () => JSON.stringify(audit.records)

let releaseSecond: () => void = () => {}
const secondLine = new Promise<void>((r) => {
  releaseSecond = r
})

describe('createFetch', () => {
  test('returns a real Response and sends the broker credential to the configured origin', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const res = await f(`${api.origin}/whoami`)
    expect(res).toBeInstanceOf(Response)
    expect(res.status).toBe(200)
    expect(res.url).toBe(`${api.origin}/whoami`)
    expect(res.redirected).toBe(false)
    expect(await res.json()).toEqual({ authorized: true })
    expect(api.seen.at(-1)?.authorization).toBe(`Bearer ${canary}`)
    const record = audit.commands().at(-1)!
    expect(record.action).toBe('http.request')
    expect(record.command).toBe(`GET ${api.origin}/whoami`)
    expect(record.outcome?.status).toBe('ok')
    expect(record.facts).toMatchObject({ method: 'GET', host: new URL(api.origin).host, path: '/whoami' })
    expect(everything()).not.toContain(canary)
  })

  test('a server echoing the injected credential never hands it to the caller (headers and body)', async () => {
    for (const kind of ['token', 'headers'] as const) {
      const b = tokenBroker(kind)
      const w = createWarden({ policy: policy(new URL(other.origin).host), broker: b, audit: memorySink() })
      const s = await w.session({ principal: { id: 'svc-echo', type: 'service' } })
      const f = createFetch(s, { resource: 'api', origin: api.origin })
      const secret = kind === 'token' ? canary : headerCanary
      const res = await f(`${api.origin}/echo/json`)
      const body = (await res.json()) as { headers: Record<string, string>; raw?: string }
      expect(api.seen.at(-1)?.[kind === 'token' ? 'authorization' : 'apiKey']).toContain(secret)
      expect(JSON.stringify(body)).not.toContain(secret)
      expect(res.headers.get('x-echo')).not.toContain(secret)
      if (kind === 'token') {
        expect(body.headers.authorization).toBe('[secret]')
        expect(res.headers.get('x-echo')).toBe('[secret]')
      } else expect(body.headers['x-api-key']).toBe('[secret]')
      const text = await (await f(`${api.origin}/echo/text`)).text()
      expect(text).toBe('you sent [secret]\nbye')
      // responses with nothing to scrub are unchanged
      expect(await (await f(`${api.origin}/plain/user`)).json()).toEqual({
        user: { email: 'ada@example.com' },
      })
      await w.close()
    }
  })

  test('accepts Request objects, URL objects and init like fetch does', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const r1 = await f(
      new Request(`${api.origin}/method`, {
        method: 'POST',
        body: 'a=1',
        headers: { 'content-type': 'text/plain' },
      }),
    )
    expect(await r1.json()).toEqual({ method: 'POST', body: 'a=1', contentType: 'text/plain' })
    const r2 = await f(new URL(`${api.origin}/method`), { method: 'POST', body: JSON.stringify({ x: 1 }) })
    expect((await r2.json()).body).toBe('{"x":1}')
  })

  test('headers credentials go only to the origin, and credential headers never reach facts', async () => {
    await warden.close()
    audit = memorySink()
    broker = tokenBroker('headers')
    warden = createWarden({ policy: policy(new URL(other.origin).host), broker, audit })
    session = await warden.session({ principal: { id: 'svc-test', type: 'service' } })
    const f = createFetch(session, {
      resource: 'api',
      origin: api.origin,
      credentialHeaders: ['x-team-secret'],
    })
    await f(`${api.origin}/whoami`, {
      headers: { 'x-team-secret': 'abc', accept: 'application/json', cookie: 'sid=1' },
    })
    expect(api.seen.at(-1)?.apiKey).toBe(headerCanary)
    const facts = audit.commands().at(-1)!.facts as { headers: Record<string, string> }
    expect(facts.headers).toEqual({ accept: 'application/json' })
    await f(`${other.origin}/plain`)
    expect(other.seen.at(-1)?.apiKey).toBeUndefined()
    expect(everything()).not.toContain(headerCanary)
  })

  test('a redirect to another origin is decided on its own hop and never carries the credential', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const before = other.seen.length
    const res = await f(`${api.origin}/to-other`, { headers: { authorization: 'Bearer caller-supplied' } })
    expect(res.redirected).toBe(true)
    expect(res.url).toBe(`${other.origin}/landing`)
    expect(await res.json()).toEqual({ host: 'other', path: '/landing' })
    expect(api.seen.at(-1)?.authorization).toBe(`Bearer ${canary}`)
    const hop = other.seen.slice(before)
    expect(hop).toHaveLength(1)
    expect(hop[0]!.authorization).toBeUndefined()
    const hops = audit.commands().slice(-2)
    expect(hops.map((r) => r.command)).toEqual([`GET ${api.origin}/to-other`, `GET ${other.origin}/landing`])
    expect(hops.every((r) => r.outcome?.status === 'ok')).toBe(true)
    expect(hops[1]!.lease).toBeUndefined()
  })

  test('a redirect back to the origin gets the credential again; same-origin redirects keep it', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    expect(await (await f(`${other.origin}/back`)).json()).toEqual({ authorized: true })
    expect(other.seen.at(-1)?.authorization).toBeUndefined()
    expect(await (await f(`${api.origin}/to-self`)).json()).toEqual({ authorized: true })
  })

  test('a denied redirect hop stops the fetch before the request leaves', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const before = other.seen.length
    await expect(f(`${api.origin}/to-denied`)).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'other-forbidden',
    })
    expect(other.seen.length).toBe(before)
    expect(audit.commands().at(-1)?.outcome?.status).toBe('denied')
  })

  test('redirect modes: manual returns the 3xx, error rejects, loops are bounded', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin, maxRedirects: 3 })
    const manual = await f(`${api.origin}/to-other`, { redirect: 'manual' })
    expect(manual.status).toBe(302)
    expect(manual.headers.get('location')).toBe(`${other.origin}/landing`)
    await expect(f(`${api.origin}/to-other`, { redirect: 'error' })).rejects.toThrow(TypeError)
    await expect(f(`${api.origin}/loop`)).rejects.toThrow(/redirect count exceeded/)
    expect(audit.commands().filter((r) => r.command === `GET ${api.origin}/loop`)).toHaveLength(4)
  })

  test('303 after POST becomes a body-less GET', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const res = await f(`${api.origin}/see-other`, {
      method: 'POST',
      body: 'x=1',
      headers: { 'content-type': 'text/plain' },
    })
    expect(await res.json()).toEqual({ method: 'GET', body: '', contentType: null })
  })

  test('a denied request never reaches the server and is audited', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const before = api.seen.length
    const err = await f(`${api.origin}/things/1`, { method: 'DELETE' }).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'no-deletes' })
    expect(api.seen.length).toBe(before)
    expect(broker.issued).toBe(0)
    expect(audit.commands().at(-1)).toMatchObject({ action: 'http.request', outcome: { status: 'denied' } })
    expect(inspect(err)).not.toContain(canary)
  })

  test('JSON responses are masked by path and detectors', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const res = await f(`${api.origin}/masked/user`)
    expect(res.headers.get('content-length')).toBeNull()
    const body = await res.json()
    expect(body.user.name).toBe('Ada')
    expect(body.user.email).not.toContain('ada@example.com')
    expect(body.user.ssn).not.toContain('123-45-6789')
    expect(body.user.note).not.toContain('bob@example.org')
    expect(body.user.note).toContain('write to')
    expect(body.list[0].ssn).not.toContain('987-65-4321')
    expect(res.url).toBe(`${api.origin}/masked/user`)
    const record = audit.commands().at(-1)!
    expect(record.masked?.length).toBeGreaterThan(0)
    expect(JSON.stringify(record)).not.toContain('ada@example.com')
  })

  test('unmasked paths pass through untouched (no masks, no rewrite)', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    expect(await (await f(`${api.origin}/plain/user`)).json()).toEqual({ user: { email: 'ada@example.com' } })
  })

  test('compressed JSON is decoded by fetch and masked', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const res = await f(`${api.origin}/masked/gzip`)
    expect(res.headers.get('content-encoding')).toBeNull()
    expect(JSON.stringify(await res.json())).not.toContain('zip@example.com')
  })

  test('NDJSON is masked line by line, across chunk boundaries', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const text = await (await f(`${api.origin}/masked/ndjson`)).text()
    const lines = text.trim().split('\n')
    expect(lines).toHaveLength(2)
    for (const line of lines) expect(JSON.parse(line).user.email).toBeDefined()
    expect(text).not.toContain('one@example.com')
    expect(text).not.toContain('two@example.com')
  })

  test('text bodies stream through line-masked, keeping line endings', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const text = await (await f(`${api.origin}/masked/text`)).text()
    expect(text).not.toContain('carol@example.com')
    expect(text).not.toContain('dave@example.net')
    expect(text).toMatch(/^line one mail .+\r\nline two .+ end\nlast$/)
  })

  test('a text body is delivered line by line as it arrives, masked, not buffered to the end', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const res = await f(`${api.origin}/masked/slow-text`)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let seen = ''
    const firstLine = (async () => {
      while (!seen.includes('\n')) {
        const { value, done } = await reader.read()
        if (done) break
        seen += decoder.decode(value, { stream: true })
      }
      return seen
    })()
    const stalled = new Promise<string>((r) => setTimeout(() => r('stalled'), 5_000))
    // The server holds the second line until this read returns: a buffering driver would stall here.
    expect(await Promise.race([firstLine, stalled])).toMatch(/^first for .+\n$/)
    expect(seen).not.toContain('erin@example.com')
    releaseSecond()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      seen += decoder.decode(value, { stream: true })
    }
    expect(seen).toMatch(/^first for .+\nsecond for .+\n$/)
    expect(seen).not.toContain('fred@example.com')
  })

  test('binary bodies fail closed when masks apply, unless binaryBodies is pass', async () => {
    const strict = createFetch(session, { resource: 'api', origin: api.origin })
    await expect(strict(`${api.origin}/masked/binary`)).rejects.toMatchObject({ code: 'ERR_WARDEN_MASKING' })
    expect(audit.commands().at(-1)?.outcome?.status).toBe('error')
    const lax = createFetch(session, { resource: 'api', origin: api.origin, binaryBodies: 'pass' })
    expect(Buffer.from(await (await lax(`${api.origin}/masked/binary`)).arrayBuffer())).toEqual(
      Buffer.from([0, 1, 2, 3]),
    )
  })

  test('approve rules wait for the approver, then run', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const res = await f(`${api.origin}/method`, { method: 'PUT', body: 'v' })
    expect((await res.json()).method).toBe('PUT')
    expect(audit.commands().at(-1)?.approval?.status).toBe('approved')
  })

  test('the body sent is the one decided: bytes the caller changes while the approval is pending are not', async () => {
    let release!: () => void
    const pending = new Promise<void>((r) => {
      release = r
    })
    const held = createWarden({
      policy: policy(new URL(other.origin).host),
      broker: tokenBroker(),
      audit: memorySink(),
      approvals: callbackApprover(async () => {
        await pending
        return true
      }),
    })
    const s = await held.session({ principal: { id: 'svc-test', type: 'service' } })
    try {
      const f = createFetch(s, { resource: 'api', origin: api.origin })
      const body = Buffer.from('amount=250')
      const res = f(`${api.origin}/method`, { method: 'PUT', body })
      // Wait until the command is held for approval (the approver has been asked), then change the bytes.
      await vi.waitFor(() => expect(s.operations).toBe(1))
      body.write('amount=999')
      release()
      expect(await (await res).json()).toMatchObject({ method: 'PUT', body: 'amount=250' })
    } finally {
      await held.close()
    }
  })

  test('a per-call dispatcher is refused: it would bypass the guard', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const before = api.seen.length
    await expect(f(`${api.origin}/whoami`, { dispatcher: new Agent() } as RequestInit)).rejects.toMatchObject(
      { code: 'ERR_WARDEN_CONFIG' },
    )
    expect(api.seen.length).toBe(before)
  })

  test('works with the Warden as source (ambient session) and refuses outside a session', async () => {
    const f = createFetch(warden, { resource: 'api', origin: api.origin })
    await expect(f(`${api.origin}/whoami`)).rejects.toMatchObject({ code: 'ERR_WARDEN_NO_SESSION' })
    const res = await session.run(() => f(`${api.origin}/whoami`))
    expect(await res.json()).toEqual({ authorized: true })
  })

  test('broker failure fails the request closed, before it leaves', async () => {
    await warden.close()
    audit = memorySink()
    warden = createWarden({
      policy: policy(new URL(other.origin).host),
      broker: {
        async issue() {
          throw new Error('vault down')
        },
        async revoke() {},
      },
      audit,
    })
    session = await warden.session({ principal: { id: 'svc-test', type: 'service' } })
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    const before = api.seen.length
    await expect(f(`${api.origin}/whoami`)).rejects.toMatchObject({ code: 'ERR_WARDEN_BROKER' })
    expect(api.seen.length).toBe(before)
  })

  test('the credential never shows in inspect, audit, or errors', async () => {
    const f = createFetch(session, { resource: 'api', origin: api.origin })
    await f(`${api.origin}/whoami`)
    await f(`${api.origin}/to-other`)
    await f(`${api.origin}/x`, { method: 'DELETE' }).catch(() => {})
    const err = await f('http://127.0.0.1:1/refused').catch((e) => e)
    expect(err).toBeInstanceOf(Error)
    expect(inspect(f, { showHidden: true, depth: 10 })).not.toContain(canary)
    expect(inspect(err, { depth: 10 })).not.toContain(canary)
    expect(everything()).not.toContain(canary)
    expect(api.seen.some((s) => s.authorization === `Bearer ${canary}`)).toBe(true)
  })

  test('options are validated at construction', () => {
    expect(() => createFetch(session, { resource: '', origin: api.origin })).toThrow(TypeError)
    expect(() => createFetch(session, { resource: 'api', origin: 'not a url' })).toThrow(/origin/)
    expect(() => createFetch(session, { resource: 'api', origin: 'ftp://x' })).toThrow(/http/)
    expect(() => createFetch(session, { resource: 'api', origin: api.origin, maxBufferBytes: 0 })).toThrow(
      /maxBufferBytes/,
    )
    expect(() => createFetch({} as never, { resource: 'api', origin: api.origin })).toThrow(
      /Session or a Warden/,
    )
  })
})

describe('describeHttp', () => {
  test('facts: method, url without fragment, host with port, path, query map, headers without credentials', () => {
    const f = describeHttp('post', 'https://api.example.com:8443/v1/items?a=1&b=2&a=3#frag', {
      Authorization: 'Bearer x',
      'Proxy-Authorization': 'y',
      Cookie: 'z',
      'X-Api-Key': 'k',
      'Content-Type': 'application/json',
    })
    expect(f).toEqual({
      method: 'POST',
      wireMethod: 'POST',
      methodOverride: '',
      url: 'https://api.example.com:8443/v1/items?a=1&b=2&a=3',
      host: 'api.example.com:8443',
      path: '/v1/items',
      query: { a: '1,3', b: '2' },
      headers: { 'content-type': 'application/json' },
    })
    expect(Object.isFrozen(f)).toBe(true)
    expect(Object.isFrozen(f.query)).toBe(true)
  })
})
