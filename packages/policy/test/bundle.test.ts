import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  bundleLoader,
  compilePolicy,
  createBundle,
  loadPolicy,
  type PolicyError,
  verifyBundle,
} from '@warden/policy'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'

const keyPair = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicJwk: publicKey.export({ format: 'jwk' }),
  }
}
const k1 = keyPair()
const k2 = keyPair()
const stranger = keyPair()

const FILES = {
  'base.yaml':
    'defaults: {effect: deny}\nrules: [{name: base-allow, effect: allow, when: "\\"readers\\" in principal.groups"}]\n',
  'deny.yaml': 'rules: [{name: no-writes, effect: deny, when: "sql.write"}]\n',
}
const reader = { principal: { groups: ['readers'] } }

describe('signed bundles', () => {
  it('round-trips: create, verify, compile; revision equals the plain files', async () => {
    const text = await createBundle(FILES, { key: k1.privatePem, kid: 'k1' })
    const v = await verifyBundle(text, [k1.publicPem])
    expect(v.manifest.files.map((f) => f.name)).toEqual(['base.yaml', 'deny.yaml'])
    const dir = await mkdtemp(join(tmpdir(), 'warden-bundle-'))
    try {
      await writeFile(join(dir, 'policy.bundle.json'), text)
      const p = await loadPolicy(join(dir, 'policy.bundle.json'), { trustedKeys: [k1.publicPem] })
      expect(p.decide(reader).effect).toBe('allow')
      expect(p.decide({ ...reader, sql: { write: true } }).rule).toBe('no-writes')
      const plain = compilePolicy(Object.entries(FILES).map(([source, t]) => ({ source, text: t })))
      expect(p.revision).toBe(plain.revision)
      await expect(loadPolicy(join(dir, 'policy.bundle.json'))).rejects.toMatchObject({
        code: 'ERR_POLICY_SIGNATURE',
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('verifies against any of several trusted keys (rotation), by kid or by trying each', async () => {
    const byK2 = await createBundle(FILES, { key: k2.privatePem, kid: 'k2' })
    await expect(verifyBundle(byK2, [k1.publicPem, k2.publicPem])).resolves.toMatchObject({ kid: 'k2' })
    await expect(
      verifyBundle(byK2, [
        { ...k1.publicJwk, kid: 'k1' },
        { ...k2.publicJwk, kid: 'k2' },
      ]),
    ).resolves.toBeDefined()
    const noKid = await createBundle(FILES, { key: k2.privatePem })
    await expect(verifyBundle(noKid, [k1.publicPem, k2.publicPem])).resolves.toMatchObject({ kid: undefined })
  })

  const bad: [string, (t: string) => Promise<string> | string, string][] = [
    [
      'signed by an untrusted key',
      () => createBundle(FILES, { key: stranger.privatePem }),
      'ERR_POLICY_SIGNATURE',
    ],
    [
      'kid names a key we do not trust',
      () => createBundle(FILES, { key: stranger.privatePem, kid: 'k1x' }),
      'ERR_POLICY_SIGNATURE',
    ],
    [
      'a file altered after signing',
      (t) => t.replace('effect: deny}', 'effect: allow}'),
      'ERR_POLICY_BUNDLE',
    ],
    [
      'a file added after signing',
      (t) =>
        JSON.stringify({
          ...JSON.parse(t),
          files: { ...JSON.parse(t).files, 'extra.yaml': 'defaults: {effect: allow}' },
        }),
      'ERR_POLICY_BUNDLE',
    ],
    [
      'a file removed after signing',
      (t) => {
        const b = JSON.parse(t)
        delete b.files['deny.yaml']
        return JSON.stringify(b)
      },
      'ERR_POLICY_BUNDLE',
    ],
    [
      'a tampered manifest payload',
      (t) => {
        const b = JSON.parse(t)
        const [h, , s] = b.manifest.split('.')
        const payload = Buffer.from(
          JSON.stringify({ typ: 'warden-policy-bundle', v: 1, createdAt: 'x', files: [] }),
        ).toString('base64url')
        return JSON.stringify({ ...b, manifest: `${h}.${payload}.${s}` })
      },
      'ERR_POLICY_SIGNATURE',
    ],
    ['not JSON', () => 'PK\u0003\u0004 zip?', 'ERR_POLICY_BUNDLE'],
    ['wrong shape', () => JSON.stringify({ files: {} }), 'ERR_POLICY_BUNDLE'],
    [
      'manifest is not a JWS',
      (t) => JSON.stringify({ ...JSON.parse(t), manifest: 'hello' }),
      'ERR_POLICY_SIGNATURE',
    ],
    [
      'alg none',
      (t) => {
        const b = JSON.parse(t)
        const [, p] = b.manifest.split('.')
        const h = Buffer.from(JSON.stringify({ alg: 'none', typ: 'warden-bundle+jws' })).toString('base64url')
        return JSON.stringify({ ...b, manifest: `${h}.${p}.` })
      },
      'ERR_POLICY_SIGNATURE',
    ],
  ]
  for (const [label, mutate, code] of bad) {
    it(`refuses a bundle: ${label}`, async () => {
      const good = await createBundle(FILES, { key: k1.privatePem, kid: 'k1' })
      const text = await mutate(good)
      await expect(verifyBundle(text, [k1.publicPem])).rejects.toMatchObject({ code })
    })
  }

  it('refuses bad keys and bad file names', async () => {
    await expect(verifyBundle('{}', [])).rejects.toMatchObject({ code: 'ERR_POLICY_SIGNATURE' })
    await expect(verifyBundle('{}', ['not a pem'])).rejects.toMatchObject({ code: 'ERR_POLICY_SIGNATURE' })
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString()
    await expect(verifyBundle('{}', [rsa])).rejects.toMatchObject({ code: 'ERR_POLICY_SIGNATURE' })
    await expect(verifyBundle('{}', [k1.privatePem])).rejects.toMatchObject({ code: 'ERR_POLICY_SIGNATURE' })
    await expect(createBundle(FILES, { key: 'garbage' })).rejects.toMatchObject({
      code: 'ERR_POLICY_SIGNATURE',
    })
    await expect(createBundle({ '../x.yaml': 'rules: []' }, { key: k1.privatePem })).rejects.toMatchObject({
      code: 'ERR_POLICY_BUNDLE',
    })
    await expect(createBundle({}, { key: k1.privatePem })).rejects.toMatchObject({
      code: 'ERR_POLICY_BUNDLE',
    })
  })

  it('a bundle that verifies but does not compile is a policy error naming the file', async () => {
    const text = await createBundle(
      { 'x.yaml': 'rules: [{name: r, effect: allow, when: "sql.nope"}]' },
      { key: k1.privatePem },
    )
    const dir = await mkdtemp(join(tmpdir(), 'warden-bundle-'))
    try {
      await writeFile(join(dir, 'p.bundle.json'), text)
      await expect(
        loadPolicy(join(dir, 'p.bundle.json'), { trustedKeys: [k1.publicPem] }),
      ).rejects.toMatchObject({
        code: 'ERR_POLICY_CEL_TYPE',
        file: `${join(dir, 'p.bundle.json')}#x.yaml`,
        line: 1,
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('bundleLoader (polls a URL with ETag)', () => {
  let server: Server
  let url: string
  let body = ''
  let etag = ''
  let status = 200
  const seen: { ifNoneMatch: string | undefined }[] = []
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ ifNoneMatch: req.headers['if-none-match'] })
      if (status !== 200) {
        res.writeHead(status).end('nope')
        return
      }
      if (etag && req.headers['if-none-match'] === etag) {
        res.writeHead(304).end()
        return
      }
      res.writeHead(200, { 'content-type': 'application/json', etag }).end(body)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const addr = server.address() as { port: number }
    url = `http://127.0.0.1:${addr.port}/warden.bundle.json`
  })
  afterAll(async () => {
    await new Promise((r) => server.close(r))
  })

  it('denies until a bundle verifies, then decides with it, honours ETag, and keeps the last good one', async () => {
    status = 503
    const errors: PolicyError[] = []
    const updates: string[] = []
    const loader = bundleLoader({
      url,
      trustedKeys: [k1.publicPem, k2.publicPem],
      intervalMs: 0,
      onError: (e) => errors.push(e),
      onUpdate: (e) => updates.push(e.revision),
    })
    try {
      expect(await loader.ready).toBe('failed')
      expect(errors.at(-1)?.code).toBe('ERR_POLICY_IO')
      expect(loader.decide(reader)).toMatchObject({
        effect: 'deny',
        rule: 'error:no-policy',
        revision: 'none',
      })

      status = 200
      body = await createBundle(FILES, { key: k1.privatePem, kid: 'k1' })
      etag = '"v1"'
      expect(await loader.refresh()).toBe('updated')
      const good = loader.revision
      expect(good).toBe(
        compilePolicy(Object.entries(FILES).map(([source, text]) => ({ source, text }))).revision,
      )
      expect(loader.decide(reader)).toMatchObject({ effect: 'allow', revision: good })
      expect(updates).toEqual([good])

      expect(await loader.refresh()).toBe('unchanged')
      expect(seen.at(-1)?.ifNoneMatch).toBe('"v1"')

      // a tampered bundle: refused, the last good policy stays in force, the reason is reported
      body = body.replace('effect: deny}', 'effect: allow}')
      etag = '"v2"'
      expect(await loader.refresh()).toBe('failed')
      expect(errors.at(-1)?.code).toBe('ERR_POLICY_BUNDLE')
      expect(loader.status.lastError?.code).toBe('ERR_POLICY_BUNDLE')
      expect(loader.revision).toBe(good)
      expect(loader.decide({ ...reader, sql: { write: true } }).effect).toBe('deny')

      // signed by a key we do not trust
      body = await createBundle({ 'all.yaml': 'defaults: {effect: allow}' }, { key: stranger.privatePem })
      etag = '"v3"'
      expect(await loader.refresh()).toBe('failed')
      expect(errors.at(-1)?.code).toBe('ERR_POLICY_SIGNATURE')
      expect(loader.revision).toBe(good)

      // signed properly but does not compile
      body = await createBundle(
        { 'bad.yaml': 'rules: [{name: r, effect: allow, when: "nope"}]' },
        { key: k2.privatePem },
      )
      etag = '"v4"'
      expect(await loader.refresh()).toBe('failed')
      expect(errors.at(-1)?.code).toBe('ERR_POLICY_CEL_TYPE')
      expect(loader.revision).toBe(good)

      // the server fails
      status = 500
      expect(await loader.refresh()).toBe('failed')
      expect(errors.at(-1)?.message).toContain('HTTP 500')
      expect(loader.decide(reader).effect).toBe('allow')

      // a good new revision signed by the rotated key goes into force
      status = 200
      body = await createBundle(
        {
          ...FILES,
          'deny.yaml': 'rules: [{name: no-deletes, effect: deny, when: "\\"DELETE\\" in sql.types"}]\n',
        },
        { key: k2.privatePem, kid: 'k2' },
      )
      etag = '"v5"'
      expect(await loader.refresh()).toBe('updated')
      expect(loader.revision).not.toBe(good)
      expect(loader.decide({ ...reader, sql: { write: true } }).effect).toBe('allow')
      expect(loader.status.lastError).toBeUndefined()
      expect(updates).toHaveLength(2)
    } finally {
      loader.close()
    }
  })

  it('polls on its own every intervalMs: a new revision on the server goes into force without refresh()', async () => {
    status = 200
    body = await createBundle(FILES, { key: k1.privatePem, kid: 'k1' })
    etag = '"p1"'
    const updates: string[] = []
    const loader = bundleLoader({
      url,
      trustedKeys: [k1.publicPem],
      intervalMs: 50,
      onUpdate: (e) => updates.push(e.revision),
    })
    try {
      expect(await loader.ready).toBe('updated')
      const first = loader.revision
      const polls = seen.length
      // Unchanged on the server: the loader keeps asking, with its ETag, and keeps the revision.
      await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(polls + 2), { timeout: 5_000 })
      expect(seen.at(-1)?.ifNoneMatch).toBe('"p1"')
      expect(loader.revision).toBe(first)
      // A new bundle on the server: picked up by the timer alone.
      body = await createBundle(
        {
          ...FILES,
          'deny.yaml': 'rules: [{name: no-deletes, effect: deny, when: "\\"DELETE\\" in sql.types"}]\n',
        },
        { key: k1.privatePem, kid: 'k1' },
      )
      etag = '"p2"'
      await vi.waitFor(() => expect(loader.revision).not.toBe(first), { timeout: 5_000 })
      expect(updates).toEqual([first, loader.revision])
    } finally {
      loader.close()
    }
    // Closed: no more requests.
    const after = seen.length
    await new Promise((r) => setTimeout(r, 200))
    expect(seen.length).toBe(after)
  })

  it('concurrent refreshes share one download', async () => {
    status = 200
    body = await createBundle(FILES, { key: k1.privatePem })
    etag = '"c1"'
    const loader = bundleLoader({ url, trustedKeys: [k1.publicPem], intervalMs: 0 })
    try {
      await loader.ready
      const before = seen.length
      const [a, b] = await Promise.all([loader.refresh(), loader.refresh()])
      expect(a).toBe(b)
      expect(seen.length - before).toBe(1)
    } finally {
      loader.close()
    }
  })

  it('validates its options eagerly', () => {
    expect(() => bundleLoader({ url: 'not a url', trustedKeys: [k1.publicPem] })).toThrow(TypeError)
    expect(() => bundleLoader({ url, trustedKeys: [] })).toThrow(/trustedKeys/)
    expect(() => bundleLoader({ url, trustedKeys: [k1.publicPem], intervalMs: -1 })).toThrow(/intervalMs/)
  })

  it('an initial policy is in force until the first bundle verifies', async () => {
    status = 503
    const initial = compilePolicy('defaults: {effect: allow}')
    const loader = bundleLoader({ url, trustedKeys: [k1.publicPem], intervalMs: 0, initial })
    try {
      await loader.ready
      expect(loader.decide({}).effect).toBe('allow')
      expect(loader.revision).toBe(initial.revision)
    } finally {
      loader.close()
    }
  })
})
