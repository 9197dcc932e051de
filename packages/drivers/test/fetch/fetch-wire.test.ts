// What the server acts on, against a local node:http server: method-override headers (the server here
// honours them, as Express's method-override and many frameworks do), host spellings that name the same
// host, and binary bodies echoing the injected credential.
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { createWarden, type Lease, memorySink, Secret, type Warden } from '@warden/core'
import { createFetch, describeHttp } from '@warden/drivers/fetch'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const canary = `canary-token-${randomUUID()}`
let origin: string
let port: number
let server: http.Server
const items = new Set<string>()
const seen: { method: string; effective: string; host: string | undefined; authorization?: string }[] = []

beforeAll(async () => {
  server = http.createServer((req, res) => {
    // The override a framework would apply (first of the headers it knows), then the route.
    const override =
      req.headers['x-http-method-override'] ??
      req.headers['x-http-method'] ??
      req.headers['x-method-override']
    const effective = typeof override === 'string' ? override.toUpperCase() : req.method!
    seen.push({
      method: req.method!,
      effective,
      host: req.headers.host,
      authorization: req.headers.authorization,
    })
    const url = new URL(req.url!, 'http://x')
    if (url.pathname.startsWith('/items/')) {
      const id = url.pathname.slice('/items/'.length)
      if (effective === 'DELETE') items.delete(id)
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ id, exists: items.has(id) }))
    }
    if (url.pathname === '/echo/binary') {
      // The credential inside binary data, cut across writes so it straddles chunk boundaries.
      const echoed = Buffer.from(String(req.headers.authorization))
      const body = Buffer.concat([
        Buffer.from([0, 0xff, 1]),
        echoed,
        Buffer.from([2, 0xfe]),
        echoed,
        Buffer.from([3]),
      ])
      const gzip = url.searchParams.has('gzip')
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      })
      if (gzip) return res.end(gzipSync(body))
      const cuts = [2, 9, 20, body.length - 3]
      let at = 0
      for (const cut of cuts) {
        res.write(body.subarray(at, cut))
        at = cut
      }
      return res.end(body.subarray(at))
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ok: true }))
  })
  // All interfaces: "localhost" may resolve to ::1 or 127.0.0.1.
  await new Promise<void>((r) => server.listen(0, r))
  port = (server.address() as AddressInfo).port
  origin = `http://localhost:${port}`
})

afterAll(() => new Promise<void>((r) => server.close(() => r())))

function broker() {
  return {
    async issue(): Promise<Lease> {
      return {
        id: 'l',
        credential: { type: 'token' as const, token: new Secret(canary) },
        expiresAt: new Date(Date.now() + 60_000),
        renewable: false,
      }
    },
    async revoke() {},
  }
}

async function setup(rules: object[], masks: object[] = []) {
  const audit = memorySink()
  const warden: Warden = createWarden({
    policy: compilePolicy({ defaults: { effect: 'deny' }, rules, masks } as never),
    broker: broker(),
    audit,
  })
  const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
  return { audit, warden, session }
}

const GET_ONLY = () => [
  { name: 'get-only', when: `http.method == "GET" && http.host == "localhost:${port}"`, effect: 'allow' },
]

describe('method-override headers', () => {
  test.each(['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override'])(
    'a GET with %s: DELETE is decided as the DELETE the server runs, and refused by a GET-only rule',
    async (header) => {
      const { audit, warden, session } = await setup([
        {
          name: 'get-only',
          when: `http.method == "GET" && http.host == "localhost:${port}"`,
          effect: 'allow',
        },
      ])
      items.add('a')
      const before = seen.length
      const f = createFetch(session, { resource: 'api', origin })
      await expect(f(`${origin}/items/a`, { headers: { [header]: 'delete' } })).rejects.toMatchObject({
        code: 'ERR_WARDEN_DENIED',
      })
      expect(seen.length).toBe(before)
      expect(items.has('a')).toBe(true)
      expect(audit.commands().at(-1)).toMatchObject({
        command: `GET ${origin}/items/a (method override: DELETE)`,
        facts: { method: 'DELETE', wireMethod: 'GET', methodOverride: 'DELETE' },
        outcome: { status: 'denied' },
      })
      // Without the header, the GET is a GET.
      expect(await (await f(`${origin}/items/a`)).json()).toEqual({ id: 'a', exists: true })
      await warden.close()
    },
  )

  test('where DELETE is allowed, the override is what the server does (so it must be the fact)', async () => {
    const { warden, session, audit } = await setup([
      { name: 'deletes', when: 'http.method == "DELETE"', effect: 'allow' },
    ])
    items.add('b')
    const f = createFetch(session, { resource: 'api', origin })
    expect(
      await (
        await f(`${origin}/items/b`, { method: 'POST', headers: { 'X-HTTP-Method-Override': 'DELETE' } })
      ).json(),
    ).toEqual({
      id: 'b',
      exists: false,
    })
    expect(seen.at(-1)).toMatchObject({ method: 'POST', effective: 'DELETE' })
    expect(JSON.stringify(audit.records)).not.toContain(canary)
    await warden.close()
  })

  test('override headers that disagree or are not a method are refused and audited, never sent', async () => {
    const { warden, session, audit } = await setup([{ name: 'anything', when: 'true', effect: 'allow' }])
    const f = createFetch(session, { resource: 'api', origin })
    const before = seen.length
    for (const headers of [
      { 'X-HTTP-Method-Override': 'GET', 'X-HTTP-Method': 'DELETE' },
      { 'X-HTTP-Method-Override': 'DEL ETE' },
      { 'X-Method-Override': '' },
    ]) {
      const err = await f(`${origin}/items/c`, { headers }).catch((e) => e)
      expect(err, JSON.stringify(headers)).toMatchObject({
        code: 'ERR_WARDEN_DENIED',
        rule: 'warden:http-method-override',
      })
      expect(err.message).toMatch(/must name one HTTP method/)
      expect(audit.commands().at(-1)).toMatchObject({
        decision: { effect: 'deny', rule: 'warden:http-method-override' },
        outcome: { status: 'denied' },
      })
    }
    expect(seen.length).toBe(before)
    await warden.close()
  })

  test('methodOverride: "fact" keeps the sent method as http.method; the override stays a fact', async () => {
    const { warden, session, audit } = await setup([
      {
        name: 'gets-without-override',
        when: 'http.method == "GET" && http.methodOverride == ""',
        effect: 'allow',
      },
    ])
    const f = createFetch(session, { resource: 'api', origin, methodOverride: 'fact' })
    await expect(
      f(`${origin}/items/d`, { headers: { 'X-HTTP-Method-Override': 'PATCH' } }),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    expect(audit.commands().at(-1)).toMatchObject({
      facts: { method: 'GET', wireMethod: 'GET', methodOverride: 'PATCH' },
    })
    expect(() => createFetch(session, { resource: 'api', origin, methodOverride: 'x' as never })).toThrow(
      /methodOverride/,
    )
    await warden.close()
  })
})

describe('hosts are normalized before facts and the origin match', () => {
  test('trailing dot and upper case name the configured origin: allowed, sent to it, with the credential', async () => {
    const { warden, session, audit } = await setup(GET_ONLY())
    const f = createFetch(session, { resource: 'api', origin })
    for (const spelling of [
      `http://localhost.:${port}`,
      `http://LOCALHOST:${port}`,
      `http://LocalHost.:${port}`,
    ]) {
      const res = await f(`${spelling}/ok`)
      expect(await res.json()).toEqual({ ok: true })
      expect(audit.commands().at(-1)).toMatchObject({
        command: `GET http://localhost:${port}/ok`,
        facts: { host: `localhost:${port}`, url: `http://localhost:${port}/ok` },
      })
      expect(seen.at(-1)).toMatchObject({ host: `localhost:${port}`, authorization: `Bearer ${canary}` })
    }
    // The configured origin may carry them too.
    const g = createFetch(session, { resource: 'api', origin: `http://LOCALHOST.:${port}` })
    expect(await (await g(`${origin}/ok`)).json()).toEqual({ ok: true })
    expect(seen.at(-1)?.authorization).toBe(`Bearer ${canary}`)
    expect(JSON.stringify(audit.records)).not.toContain(canary)
    await warden.close()
  })

  test('IDNA: the host fact is the ASCII (punycode) form, as DNS and TLS see it', () => {
    expect(describeHttp('GET', 'https://BÜCHER.example./a').host).toBe('xn--bcher-kva.example')
    expect(describeHttp('GET', 'https://xn--bcher-kva.example/a').host).toBe('xn--bcher-kva.example')
    expect(describeHttp('GET', 'https://api.example.com.:8443/a')).toMatchObject({
      host: 'api.example.com:8443',
      url: 'https://api.example.com:8443/a',
    })
  })
})

describe('a binary body echoing the injected credential', () => {
  const scrubbed = Buffer.concat([
    Buffer.from([0, 0xff, 1]),
    Buffer.from('[secret]'),
    Buffer.from([2, 0xfe]),
    Buffer.from('[secret]'),
    Buffer.from([3]),
  ])

  test('is scrubbed as bytes, streamed, across chunk boundaries, also when compressed (no masks)', async () => {
    const { warden, session, audit } = await setup(GET_ONLY())
    const f = createFetch(session, { resource: 'api', origin })
    for (const path of ['/echo/binary', '/echo/binary?gzip=1']) {
      const res = await f(`${origin}${path}`)
      expect(res.headers.get('content-length')).toBeNull()
      expect(res.headers.get('content-encoding')).toBeNull()
      const body = Buffer.from(await res.arrayBuffer())
      expect(body.includes(canary)).toBe(false)
      expect(body).toEqual(scrubbed)
    }
    expect(JSON.stringify(audit.records)).not.toContain(canary)
    await warden.close()
  })

  test('with masks: binaryBodies "pass" still scrubs the credential; "deny" refuses the body', async () => {
    const masks = [{ name: 'emails', resources: ['http:*'], detectors: ['email'], strategy: 'redact' }]
    const { warden, session } = await setup(GET_ONLY(), masks)
    const lax = createFetch(session, { resource: 'api', origin, binaryBodies: 'pass' })
    expect(Buffer.from(await (await lax(`${origin}/echo/binary`)).arrayBuffer())).toEqual(scrubbed)
    const strict = createFetch(session, { resource: 'api', origin })
    const err = await strict(`${origin}/echo/binary`).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_MASKING' })
    expect(String(err.message)).not.toContain(canary)
    await warden.close()
  })
})
