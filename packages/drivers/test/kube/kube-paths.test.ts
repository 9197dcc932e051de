// The kube driver against the API server double mounted under a path prefix (a cluster URL such as
// https://gateway/k8s): facts from the path under the prefix, paths decoded as the Go API server decodes
// them, impersonation headers as facts and their own decision, dryRun as a fact, proxy subresources.
import { randomUUID } from 'node:crypto'
import https from 'node:https'
import { Writable } from 'node:stream'
import * as k8s from '@kubernetes/client-node'
import { createWarden, type Lease, memorySink, Secret, type Session, type Warden } from '@warden/core'
import { describeKube, Exec, KubeConfig } from '@warden/drivers/kube'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { KubeApiServer } from './api-server.js'
import { selfSigned } from './self-signed.js'

const tls = selfSigned()

const canary = `kube-token-${randomUUID()}`
const SECRET_VALUE = `s3cr3t-${randomUUID()}`
const PREFIX = '/k8s/gw'

const POLICY = {
  defaults: { effect: 'deny' },
  rules: [
    {
      name: 'reads',
      when: 'kube.verb in ["get", "list", "watch"] && kube.resource != "" && kube.subresource != "proxy"',
      effect: 'allow',
    },
    { name: 'discovery', when: 'kube.verb == "get" && kube.resource == ""', effect: 'allow' },
    { name: 'dry-runs', when: 'kube.verb == "create" && kube.dryRun', effect: 'allow' },
    { name: 'exec-echo', when: 'kube.verb == "exec" && kube.command == ["echo", "hi"]', effect: 'allow' },
    {
      name: 'impersonate-viewer',
      when: 'action == "kube.impersonate" && kube.impersonate.user == "viewer" && kube.impersonate.groups == [] && kube.impersonate.extras == {}',
      effect: 'allow',
    },
    {
      name: 'impersonated-reads',
      when: 'kube.verb in ["get", "list"] && kube.impersonate.user == "viewer"',
      effect: 'allow',
    },
  ],
}

let server: KubeApiServer
let origin: string
let warden: Warden
let session: Session
let audit: ReturnType<typeof memorySink>
let kc: KubeConfig

beforeAll(async () => {
  server = new KubeApiServer({ acceptToken: (t) => t === canary, basePath: PREFIX, tls })
  origin = await server.listen()
  server.seed('namespaces', '', { metadata: { name: 'team' } })
  server.seed('secrets', 'team', { metadata: { name: 'db' }, stringData: { password: SECRET_VALUE } })
  server.seed('pods', 'team', {
    metadata: { name: 'web' },
    spec: { containers: [{ name: 'app', image: 'nginx' }] },
  })
  server.appendLog('team', 'web', 'app', 'log line')
  audit = memorySink()
  warden = createWarden({ policy: compilePolicy(POLICY), broker: broker(), audit })
  session = await warden.session({ principal: { id: 'ci', type: 'workload' } })
  kc = new KubeConfig(session, {
    resource: 'prod',
    cluster: { server: `${origin}${PREFIX}/`, caData: tls.caData },
  })
})

afterAll(async () => {
  await warden?.close()
  await server?.close()
})

beforeEach(() => audit.clear())

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

const commands = () => audit.records.filter((r) => r.action !== undefined)
const noCanary = () => expect(JSON.stringify(audit.records)).not.toContain(canary)

/** A raw request to the double (no driver): what the server itself does with a path. */
function raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${origin}${path}`,
      { headers: { authorization: `Bearer ${canary}`, ...headers }, ca: Buffer.from(tls.caData, 'base64') },
      (res) => {
        let body = ''
        res.on('data', (d) => {
          body += d
        })
        res.on('end', () => resolve({ status: res.statusCode!, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

describe('the double routes as the Go API server does', () => {
  test('only under its base path, on the decoded path', async () => {
    expect((await raw('/api/v1/namespaces/team/pods/web')).status).toBe(404)
    expect((await raw(`${PREFIX}/api/v1/namespaces/team/pods/web`)).status).toBe(200)
    // %2F is a "/" to the server: "web%2Flog" is the pod's log subresource, not a pod named "web/log".
    const log = await raw(`${PREFIX}/api/v1/namespaces/team/pods/web%2Flog`)
    expect(log).toMatchObject({ status: 200, body: 'log line\n' })
    expect((await raw(`${PREFIX}/api/v1/namespaces/team/pods/web%zz`)).status).toBe(400)
    expect((await raw(`${PREFIX}/api/v1/namespaces/team//pods/web`)).status).toBe(404)
  })
})

describe('a cluster URL with a path prefix', () => {
  test('facts come from the path under the prefix', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const pods = await core.listNamespacedPod({ namespace: 'team' })
    expect(pods.items.map((p) => p.metadata?.name)).toEqual(['web'])
    expect(commands().at(-1)).toMatchObject({
      action: 'kube.list',
      facts: { verb: 'list', version: 'v1', resource: 'pods', namespace: 'team' },
      outcome: { status: 'ok' },
    })
    expect(server.seen.at(-1)).toMatchObject({
      url: `${PREFIX}/api/v1/namespaces/team/pods`,
      path: '/api/v1/namespaces/team/pods',
    })
    noCanary()
  })

  test('a Secret read is a Secret read: masked; YAML refused', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const secret = await core.readNamespacedSecret({ name: 'db', namespace: 'team' })
    expect(JSON.stringify(secret)).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'))
    expect(commands().at(-1)).toMatchObject({ facts: { resource: 'secrets', name: 'db' } })
    const before = server.seen.length
    const err = await core
      .readNamespacedSecret(
        { name: 'db', namespace: 'team' },
        k8s.setHeaderOptions('Accept', 'application/yaml'),
      )
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_MASKING' })
    expect(server.seen.length).toBe(before)
  })

  test('exec is exec: a command no rule allows is refused, the allowed one runs', async () => {
    const exec = new Exec(kc)
    const out: string[] = []
    const stdout = new Writable({
      write(chunk, _e, cb) {
        out.push(String(chunk))
        cb()
      },
    })
    const err = await exec
      .exec('team', 'web', 'app', ['rm', '-rf', '/'], stdout, null, null, false)
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    expect(commands().at(-1)).toMatchObject({
      action: 'kube.exec',
      facts: { verb: 'exec', resource: 'pods', subresource: 'exec', command: ['rm', '-rf', '/'] },
      outcome: { status: 'denied' },
    })
    expect(server.seen.some((s) => s.method === 'UPGRADE' && s.url.includes('rm'))).toBe(false)
    await new Promise<void>((resolve, reject) => {
      exec
        .exec('team', 'web', 'app', ['echo', 'hi'], stdout, null, null, false, (status) =>
          status.status === 'Success' ? resolve() : reject(new Error(JSON.stringify(status))),
        )
        .catch(reject)
    })
    expect(out.join('')).toContain('hi')
    expect(server.seen.at(-1)).toMatchObject({
      method: 'UPGRADE',
      path: '/api/v1/namespaces/team/pods/web/exec',
    })
  })

  test('a path outside the prefix on the same origin is refused before anything is sent', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const before = server.seen.length
    const err = await core
      .listNamespacedPod(
        { namespace: 'team' },
        { baseServer: new k8s.ServerConfiguration(`${origin}/elsewhere`, {}) },
      )
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
    expect(err.message).toMatch(/outside the cluster's base path/)
    expect(server.seen.length).toBe(before)
  })
})

describe('names are decoded as the API server decodes them', () => {
  test('a name with %2F is refused, audited, and never sent', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const before = server.seen.length
    // The client encodes the name: the wire carries pods/web%2Flog, which the server serves as pods/web/log.
    // Decided with no facts (none can be trusted) by the built-in rule, before this policy.
    const err = await core.readNamespacedPod({ name: 'web/log', namespace: 'team' }).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'warden:kube-path' })
    expect(server.seen.length).toBe(before)
    expect(commands().at(-1)).toMatchObject({
      action: 'kube.get',
      command: expect.stringContaining('pods/web%2Flog'),
      decision: { effect: 'deny', rule: 'warden:kube-path' },
      outcome: { status: 'denied' },
    })
    // Under a policy that allows everything, the driver refuses it itself, audited as warden:kube-path.
    const open = createWarden({
      policy: compilePolicy({ defaults: { effect: 'allow' }, rules: [] }),
      broker: broker(),
      audit,
    })
    const kcOpen = new KubeConfig(await open.session({ principal: { id: 'admin', type: 'user' } }), {
      resource: 'prod',
      cluster: { server: `${origin}${PREFIX}`, caData: tls.caData },
    })
    const openCore = kcOpen.makeApiClient(k8s.CoreV1Api)
    for (const call of [
      () => openCore.readNamespacedPod({ name: 'web/log', namespace: 'team' }),
      () => openCore.listNamespacedPod({ namespace: 'team/../kube-system' }),
      () => openCore.deleteNamespacedPod({ name: 'web/exec', namespace: 'team' }),
    ]) {
      audit.clear()
      const refused = await call().catch((e) => e)
      expect(refused).toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'warden:kube-path' })
      expect(refused.message).toMatch(/names and namespaces cannot contain "\/"/)
      expect(audit.records.at(-1)).toMatchObject({
        decision: { effect: 'deny', rule: 'warden:kube-path' },
        outcome: { status: 'denied' },
      })
    }
    expect(server.seen.length).toBe(before)
    expect(server.get('pods', 'team', 'web')).toBeDefined()
    await open.close()
    noCanary()
  })

  test.each([
    ['/api/v1/namespaces/team/pods/web%2Fexec', /decodes to "web\/exec"/],
    ['/api/v1/namespaces/team/pods/web%2fexec', /decodes to "web\/exec"/],
    ['/api/v1/namespaces/te%zzam/pods', /not valid percent-encoded/],
    ['/api/v1/namespaces/team/pods/%ff', /not valid percent-encoded/],
    ['/api/v1/namespaces/team//pods', /empty segment/],
    ['/api/v1/proxy/nodes/n1/metrics', /legacy \/proxy\//],
  ])('describeKube refuses %s', (path, message) => {
    expect(() => describeKube('GET', path)).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_DESCRIBE', message: expect.stringMatching(message) }),
    )
  })

  test('percent-encoded characters that are not "/" are decoded, as the server decodes them', () => {
    expect(describeKube('GET', '/api/v1/namespaces/t%65am/pods/w%65b')).toMatchObject({
      namespace: 'team',
      name: 'web',
    })
    expect(describeKube('GET', `${PREFIX}/api/v1/pods`, { basePath: PREFIX })).toMatchObject({
      verb: 'list',
      resource: 'pods',
    })
    expect(() => describeKube('GET', '/k8s/other/api/v1/pods', { basePath: PREFIX })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }),
    )
  })
})

describe('proxy subresources and dryRun', () => {
  test.each([
    [
      '/api/v1/nodes/node-1/proxy/metrics',
      { resource: 'nodes', name: 'node-1', subresource: 'proxy', namespace: '' },
    ],
    [
      '/api/v1/nodes/node-1:10250/proxy/exec/ns/pod/c',
      { resource: 'nodes', name: 'node-1:10250', subresource: 'proxy' },
    ],
    [
      '/api/v1/namespaces/default/services/https:web:443/proxy/admin',
      { resource: 'services', name: 'https:web:443', subresource: 'proxy', namespace: 'default' },
    ],
    [
      '/api/v1/namespaces/default/pods/web:8080/proxy/',
      { resource: 'pods', name: 'web:8080', subresource: 'proxy' },
    ],
  ])('GET %s is the proxy subresource, verb get', (path, facts) => {
    expect(describeKube('GET', path)).toMatchObject({ verb: 'get', ...facts })
  })

  test('the read rule does not let a proxy GET through; the server never sees it', async () => {
    const before = server.seen.length
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const err = await core.connectGetNodeProxyWithPath({ name: 'node-1', path: 'metrics' }).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    expect(commands().at(-1)).toMatchObject({
      facts: { resource: 'nodes', subresource: 'proxy', verb: 'get' },
    })
    expect(server.seen.length).toBe(before)
  })

  test('dryRun=All is a fact (only all-All is a dry run); the server persists nothing', async () => {
    expect(describeKube('POST', '/api/v1/namespaces/team/pods?dryRun=All').dryRun).toBe(true)
    expect(describeKube('POST', '/api/v1/namespaces/team/pods?dryRun=All&dryRun=x').dryRun).toBe(false)
    expect(describeKube('POST', '/api/v1/namespaces/team/pods?dryrun=All').dryRun).toBe(false)
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const body = { metadata: { name: 'dry' }, spec: { containers: [{ name: 'c', image: 'x' }] } }
    await core.createNamespacedPod({ namespace: 'team', body, dryRun: 'All' })
    expect(commands().at(-1)).toMatchObject({
      action: 'kube.create',
      facts: { dryRun: true },
      outcome: { status: 'ok' },
    })
    expect(server.get('pods', 'team', 'dry')).toBeUndefined()
    const err = await core.createNamespacedPod({ namespace: 'team', body }).catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    expect(server.get('pods', 'team', 'dry')).toBeUndefined()
  })
})

/** Per-call middleware setting request headers, as a caller of the generated clients can. */
function withHeaders(headers: Record<string, string>) {
  const observable = <T>(v: T) => ({ toPromise: () => Promise.resolve(v) })
  const middleware = {
    pre: (ctx: k8s.RequestContext) => {
      for (const [k, v] of Object.entries(headers)) ctx.setHeaderParam(k, v)
      return observable(ctx)
    },
    post: (rsp: k8s.ResponseContext) => observable(rsp),
  }
  return { middleware: [middleware], middlewareMergeStrategy: 'append' } as any
}

describe('impersonation', () => {
  test('Impersonate-* headers are facts read as the API server reads them', () => {
    const f = describeKube('GET', '/api/v1/pods', {
      headers: {
        'Impersonate-User': 'system:admin',
        'impersonate-group': 'system:masters, dev',
        'Impersonate-Uid': '7',
        'Impersonate-Extra-Scopes%2Fadmin': 'all',
        'Impersonate-Extra-Reason': 'x',
      },
    })
    expect(f.impersonate).toEqual({
      user: 'system:admin',
      groups: ['system:masters, dev'], // one header line is one group to the server
      uid: '7',
      extras: { 'scopes/admin': ['all'], reason: ['x'] },
    })
    expect(describeKube('GET', '/api/v1/pods').impersonate).toEqual({
      user: '',
      groups: [],
      uid: '',
      extras: {},
    })
  })

  test('a read as system:admin is refused by the impersonation decision and never sent', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const before = server.seen.length
    for (const headers of [
      { 'Impersonate-User': 'system:admin' },
      { 'Impersonate-Group': 'system:masters' },
      { 'Impersonate-User': 'viewer', 'Impersonate-Group': 'system:masters' },
      { 'Impersonate-User': 'viewer', 'Impersonate-Extra-Scopes': 'admin' },
      { 'impersonate-uid': '0' },
    ]) {
      audit.clear()
      const err = await core.listNamespacedPod({ namespace: 'team' }, withHeaders(headers)).catch((e) => e)
      expect(err, JSON.stringify(headers)).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
      expect(err.message).toMatch(/kube\.impersonate/)
      expect(audit.records).toMatchObject([{ action: 'kube.impersonate', outcome: { status: 'denied' } }])
    }
    expect(server.seen.length).toBe(before)
    noCanary()
  })

  test('an allowed impersonation is decided twice (impersonate, then the request) and reaches the server', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const pods = await core.listNamespacedPod(
      { namespace: 'team' },
      withHeaders({ 'Impersonate-User': 'viewer' }),
    )
    expect(pods.items).toHaveLength(1)
    expect(audit.records.map((r) => [r.action, r.outcome?.status])).toEqual([
      ['kube.impersonate', 'ok'],
      ['kube.list', 'ok'],
    ])
    expect(commands().at(-1)).toMatchObject({ facts: { impersonate: { user: 'viewer', groups: [] } } })
    expect(server.seen.at(-1)).toMatchObject({ impersonate: { 'impersonate-user': 'viewer' } })
  })
})

describe('the bearer token never comes back', () => {
  test('a response echoing Authorization is scrubbed in the body and the headers', async () => {
    const path = `${PREFIX}/api/v1/namespaces/team/pods/web/proxy/debug`
    server.echoAuthorization(path)
    const { warden: w, session: s } = await (async () => {
      const w = createWarden({
        policy: compilePolicy({ defaults: { effect: 'allow' }, rules: [] }),
        broker: broker(),
        audit,
      })
      return { warden: w, session: await w.session({ principal: { id: 'admin', type: 'user' } }) }
    })()
    const kcOpen = new KubeConfig(s, {
      resource: 'prod',
      cluster: { server: `${origin}${PREFIX}`, caData: tls.caData },
    })
    const core = kcOpen.makeApiClient(k8s.CoreV1Api)
    const answer = await core.connectGetNamespacedPodProxyWithPathWithHttpInfo({
      name: 'web',
      namespace: 'team',
      path: 'debug',
    })
    expect(server.seen.at(-1)).toMatchObject({ url: path, authorization: `Bearer ${canary}` })
    const shown = JSON.stringify(answer)
    expect(shown).not.toContain(canary)
    expect(shown).toContain('[secret]')
    noCanary()
    await w.close()
  })
})
