import { randomUUID } from 'node:crypto'
import { PassThrough, Readable, Writable } from 'node:stream'
import { inspect } from 'node:util'
import * as k8s from '@kubernetes/client-node'
import {
  type ApprovalRequest,
  type Approver,
  type Broker,
  callbackApprover,
  createWarden,
  type Lease,
  memorySink,
  Secret,
  type Session,
  type Warden,
} from '@warden/core'
import { Attach, Exec, KubeConfig, Log, PortForward, Watch } from '@warden/drivers/kube'
import { compilePolicy } from '@warden/policy'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { KubeApiServer } from './api-server.js'
import { selfSigned } from './self-signed.js'

const tls = selfSigned()

const canary = `kube-token-${randomUUID()}`
const SECRET_VALUE = `s3cr3t-${randomUUID()}`
const b64 = (s: string) => Buffer.from(s).toString('base64')

const POLICY = {
  defaults: { effect: 'deny' },
  rules: [
    {
      name: 'reads',
      when: 'kube.verb in ["get", "list", "watch"] && kube.namespace != "forbidden"',
      effect: 'allow',
    },
    { name: 'writes', when: 'kube.verb in ["create", "update", "patch"]', effect: 'allow' },
    {
      name: 'deletes-need-approval',
      when: 'kube.verb in ["delete", "deletecollection"]',
      effect: 'approve',
      approval: { approvers: ['sre'], timeout: '1m' },
    },
    {
      name: 'safe-exec',
      when: 'kube.verb == "exec" && kube.command.size() > 0 && kube.command[0] in ["echo", "cat", "hostname"]',
      effect: 'allow',
    },
    {
      name: 'no-rm',
      when: 'kube.verb == "exec" && "rm" in kube.command',
      effect: 'deny',
      reason: 'no deleting files in pods',
    },
    { name: 'attach', when: 'kube.verb in ["attach", "portforward"]', effect: 'allow' },
    { name: 'reveal-visible', when: 'kube.verb == "reveal" && kube.name == "visible"', effect: 'allow' },
  ],
  masks: [
    {
      name: 'emails-in-logs',
      resources: ['kubernetes:*'],
      when: 'kube.subresource == "log" || kube.verb in ["exec", "attach"] || kube.resource == "configmaps"',
      detectors: ['email'],
      strategy: 'redact',
    },
  ],
}

function tokenBroker(ttlMs = 60_000): Broker & { issued: number } {
  const b = {
    issued: 0,
    async issue(): Promise<Lease> {
      b.issued++
      return {
        id: `lease-${b.issued}`,
        credential: { type: 'token', token: new Secret(canary) },
        expiresAt: new Date(Date.now() + ttlMs),
        renewable: false,
      }
    },
    async revoke() {},
  }
  return b
}

let server: KubeApiServer
let origin: string
let decoy: KubeApiServer
let decoyOrigin: string
let warden: Warden
let session: Session
let audit: ReturnType<typeof memorySink>
let approvals: ApprovalRequest[]
let approver: Approver
let kc: KubeConfig

beforeAll(async () => {
  server = new KubeApiServer({ acceptToken: (t) => t === canary, tls })
  origin = await server.listen()
  decoy = new KubeApiServer({ acceptToken: () => true })
  decoyOrigin = await decoy.listen()
  server.seed('namespaces', '', { metadata: { name: 'team' } })
  server.seed('secrets', 'team', {
    metadata: {
      name: 'db',
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
          stringData: { password: SECRET_VALUE },
        }),
      },
    },
    stringData: { password: SECRET_VALUE },
  })
  server.seed('secrets', 'team', { metadata: { name: 'visible' }, data: { token: b64('shown-on-purpose') } })
  server.seed('pods', 'team', {
    metadata: { name: 'web' },
    spec: { containers: [{ name: 'app', image: 'nginx' }] },
  })
  server.appendLog('team', 'web', 'app', 'started', 'user alice@example.com logged in', 'ready')
})

afterAll(async () => {
  await server.close()
  await decoy.close()
})

const approveAll = () =>
  callbackApprover(async (req) => {
    approvals.push(req)
    return true
  })

async function open(a: Approver) {
  audit = memorySink()
  approvals = []
  approver = a
  warden = createWarden({
    policy: compilePolicy(POLICY as any),
    broker: tokenBroker(),
    audit,
    approvals: approver,
  })
  session = await warden.session({ principal: { id: 'agent-1', type: 'agent' } })
  kc = new KubeConfig(session, {
    resource: 'dev',
    cluster: { server: origin, caData: tls.caData },
    namespace: 'team',
  })
}

beforeEach(async () => {
  await open(approveAll())
})
afterEach(async () => {
  await warden.close()
})

// The last command that ran (records are in the order commands were decided; a reveal is checked
// while its list or get runs).
const lastCommand = () =>
  audit
    .commands()
    .filter((r) => r.action !== 'kube.reveal')
    .at(-1)!
const collect = () => {
  const chunks: Buffer[] = []
  const stream = new Writable({
    write(c, _e, cb) {
      chunks.push(Buffer.from(c))
      cb()
    },
  })
  return { stream, text: () => Buffer.concat(chunks).toString() }
}
const ended = (w: Writable) =>
  new Promise<void>((r) => (w.writableFinished ? r() : w.on('finish', () => r())))

describe('REST through generated clients', () => {
  test('CRUD on configmaps: facts, verbs, broker token, identity encoding', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    await core.createNamespacedConfigMap({
      namespace: 'team',
      body: { metadata: { name: 'cfg' }, data: { a: '1' } },
    })
    expect(lastCommand()).toMatchObject({
      action: 'kube.create',
      command: 'POST /api/v1/namespaces/team/configmaps',
      facts: {
        verb: 'create',
        group: '',
        version: 'v1',
        resource: 'configmaps',
        namespace: 'team',
        name: '',
      },
      outcome: { status: 'ok' },
    })
    const cm = await core.readNamespacedConfigMap({ name: 'cfg', namespace: 'team' })
    expect(cm.data).toEqual({ a: '1' })
    expect(lastCommand()).toMatchObject({ action: 'kube.get', facts: { verb: 'get', name: 'cfg' } })
    const list = await core.listNamespacedConfigMap({ namespace: 'team' })
    expect(list.items.map((i) => i.metadata?.name)).toContain('cfg')
    expect(lastCommand()).toMatchObject({
      action: 'kube.list',
      facts: { verb: 'list', resource: 'configmaps' },
    })
    cm.data = { a: '2' }
    await core.replaceNamespacedConfigMap({ name: 'cfg', namespace: 'team', body: cm })
    expect(lastCommand().action).toBe('kube.update')
    expect(server.get('configmaps', 'team', 'cfg')?.data).toEqual({ a: '2' })
    const discovered = await core.getAPIResources()
    expect(discovered.resources.map((r) => r.name)).toContain('pods/exec')
    expect(lastCommand().facts).toMatchObject({ verb: 'get', resource: '', version: 'v1' })
    const mine = server.seen.filter((s) => s.method !== 'UPGRADE').slice(-5)
    expect(mine.every((s) => s.authorization === `Bearer ${canary}`)).toBe(true)
    expect(mine.every((s) => s.acceptEncoding === 'identity')).toBe(true)
  })

  test("API errors come back as the library's ApiException with the Status object", async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const err = await core.readNamespacedConfigMap({ name: 'nope', namespace: 'team' }).catch((e) => e)
    expect(err).toBeInstanceOf(k8s.ApiException)
    expect(err.code).toBe(404)
    expect(JSON.parse(err.body)).toMatchObject({ kind: 'Status', reason: 'NotFound' })
  })

  test('Secret data is masked in get and list (and last-applied), unless policy allows kube.reveal', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const s = await core.readNamespacedSecret({ name: 'db', namespace: 'team' })
    expect(s.data).toEqual({ password: b64('***') })
    expect(s.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toBe('***')
    const list = await core.listNamespacedSecret({ namespace: 'team' })
    const byName = Object.fromEntries(list.items.map((i) => [i.metadata?.name, i.data]))
    expect(byName.db).toEqual({ password: b64('***') })
    expect(byName.visible).toEqual({ token: b64('shown-on-purpose') })
    expect((await core.readNamespacedSecret({ name: 'visible', namespace: 'team' })).data).toEqual({
      token: b64('shown-on-purpose'),
    })
    expect(JSON.stringify(audit.records)).not.toContain(SECRET_VALUE)
    expect(JSON.stringify(audit.records)).not.toContain(b64(SECRET_VALUE))
    // Each reveal decision is audited on its own: the allowed one (values released) and the refused one.
    const reveals = audit.records.filter((r) => r.action === 'kube.reveal')
    expect(reveals.find((r) => r.command === 'reveal secrets team/visible')).toMatchObject({
      decision: { effect: 'allow', rule: 'reveal-visible' },
      outcome: { status: 'ok' },
    })
    expect(reveals.find((r) => r.command === 'reveal secrets team/db')).toMatchObject({
      decision: { effect: 'deny' },
      outcome: { status: 'denied' },
    })
  })

  test('policy masks apply to JSON objects (detectors in configmap data)', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    await core.createNamespacedConfigMap({
      namespace: 'team',
      body: { metadata: { name: 'contacts' }, data: { owner: 'bob@example.com' } },
    })
    const cm = await core.readNamespacedConfigMap({ name: 'contacts', namespace: 'team' })
    expect(cm.data?.owner).not.toContain('bob@example.com')
    expect(lastCommand().masked?.length).toBeGreaterThan(0)
  })

  test('KubernetesObjectApi goes through the same path (discovery included) and masks Secrets', async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc)
    const s = (await objects.read({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db', namespace: 'team' },
    })) as k8s.V1Secret
    expect(s.data).toEqual({ password: b64('***') })
    const created = await objects.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'via-objects' },
      data: { k: 'v' },
    } as any)
    expect(created.metadata?.namespace).toBe('team')
    await objects.patch(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'via-objects', namespace: 'team' },
        data: { k: 'w' },
      } as any,
      undefined,
      undefined,
      undefined,
      undefined,
      k8s.PatchStrategy.MergePatch,
    )
    expect(lastCommand()).toMatchObject({ action: 'kube.patch', facts: { name: 'via-objects' } })
    expect(server.get('configmaps', 'team', 'via-objects')?.data).toEqual({ k: 'w' })
    expect(audit.commands().some((r) => r.command === 'GET /api/v1' && r.action === 'kube.get')).toBe(true)
  })

  test('a per-call baseServer pointing elsewhere is refused before any token leaves', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const before = decoy.seen.length
    const err = await core
      .readNamespacedSecret(
        { name: 'db', namespace: 'team' },
        { baseServer: new k8s.ServerConfiguration(decoyOrigin, {}) },
      )
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
    expect(decoy.seen.length).toBe(before)
  })

  test('per-call middleware replacement and authMethods cannot skip masking or the token rules', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const s = await core.readNamespacedSecret({ name: 'db', namespace: 'team' }, {
      middleware: [],
      middlewareMergeStrategy: 'replace',
      authMethods: {},
    } as any)
    expect(s.data).toEqual({ password: b64('***') })
  })

  test('a denied request never reaches the server', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const before = server.seen.length
    await expect(core.listNamespacedPod({ namespace: 'forbidden' })).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'default',
    })
    expect(server.seen.length).toBe(before)
    expect(lastCommand()).toMatchObject({ action: 'kube.list', outcome: { status: 'denied' } })
  })
})

describe('writes held for approval', () => {
  test('the approver sees a dryRun=All preview; nothing changes until approved', async () => {
    server.seed('configmaps', 'team', { metadata: { name: 'doomed' }, data: { x: '1' } })
    let existedDuringApproval = false
    await warden.close()
    await open(
      callbackApprover(async (req) => {
        approvals.push(req)
        existedDuringApproval = server.get('configmaps', 'team', 'doomed') !== undefined
        return true
      }),
    )
    const core = kc.makeApiClient(k8s.CoreV1Api)
    await core.deleteNamespacedConfigMap({ name: 'doomed', namespace: 'team' })
    expect(existedDuringApproval).toBe(true)
    expect(server.get('configmaps', 'team', 'doomed')).toBeUndefined()
    expect(approvals).toHaveLength(1)
    expect(approvals[0]!.action).toBe('kube.delete')
    expect(approvals[0]!.preview?.summary).toMatch(
      /^dry run: delete configmaps in team named doomed succeeds/,
    )
    expect(server.seen.some((s) => s.method === 'DELETE' && s.url.includes('dryRun=All'))).toBe(true)
    expect(lastCommand()).toMatchObject({
      action: 'kube.delete',
      approval: { status: 'approved' },
      outcome: { status: 'ok' },
    })
  })

  test('a deletecollection preview counts what would go; a rejection leaves everything in place', async () => {
    server.seed('configmaps', 'team', { metadata: { name: 'batch-a', labels: { batch: 'x' } } })
    server.seed('configmaps', 'team', { metadata: { name: 'batch-b', labels: { batch: 'x' } } })
    await warden.close()
    await open(
      callbackApprover(async (req) => {
        approvals.push(req)
        return false
      }),
    )
    const core = kc.makeApiClient(k8s.CoreV1Api)
    await expect(
      core.deleteCollectionNamespacedConfigMap({ namespace: 'team', labelSelector: 'batch=x' }),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_REJECTED',
    })
    expect(approvals[0]!.preview).toMatchObject({ rowsAffected: [2] })
    expect(server.get('configmaps', 'team', 'batch-a')).toBeDefined()
    expect(lastCommand()).toMatchObject({ action: 'kube.deletecollection', outcome: { status: 'rejected' } })
  })

  test('a failing dry run is summarized, not thrown', async () => {
    let preview: unknown
    await warden.close()
    await open(
      callbackApprover(async (req) => {
        preview = req.preview
        return false
      }),
    )
    await expect(
      kc.makeApiClient(k8s.CoreV1Api).deleteNamespacedConfigMap({ name: 'missing', namespace: 'team' }),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_REJECTED',
    })
    expect(preview).toMatchObject({
      summary: expect.stringMatching(/fails: NotFound/),
      dryRun: { ok: false, status: 404 },
    })
  })
})

describe('Watch', () => {
  test('events stream through masked, with watch facts; Secret values never reach the callback', async () => {
    const watch = new Watch(kc)
    const events: { type: string; obj: any }[] = []
    let finished: unknown = 'not yet'
    const controller = await watch.watch(
      '/api/v1/namespaces/team/secrets',
      { resourceVersion: String(server.resourceVersion) },
      (type, obj) => events.push({ type, obj }),
      (err) => {
        finished = err
      },
    )
    expect(lastCommand()).toMatchObject({
      action: 'kube.watch',
      facts: { verb: 'watch', resource: 'secrets', namespace: 'team' },
    })
    const core = kc.makeApiClient(k8s.CoreV1Api)
    await core.createNamespacedSecret({
      namespace: 'team',
      body: { metadata: { name: 'w1' }, stringData: { k: SECRET_VALUE } },
    })
    await core.patchNamespacedSecret(
      { name: 'w1', namespace: 'team', body: { metadata: { labels: { a: 'b' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )
    await expect.poll(() => events.length).toBe(2)
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED'])
    for (const e of events) expect(e.obj.data).toEqual({ k: b64('***') })
    expect(JSON.stringify(events)).not.toContain(b64(SECRET_VALUE))
    controller.abort()
    await expect.poll(() => finished).not.toBe('not yet')
  })

  test('a denied watch rejects and never connects; upstream Watch with this KubeConfig fails closed', async () => {
    const before = server.seen.length
    await expect(
      new Watch(kc).watch(
        '/api/v1/namespaces/forbidden/pods',
        {},
        () => {},
        () => {},
      ),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    await expect(
      new k8s.Watch(kc).watch(
        '/api/v1/namespaces/team/pods',
        {},
        () => {},
        () => {},
      ),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_UNSUPPORTED',
    })
    expect(server.seen.length).toBe(before)
  })
})

describe('Log', () => {
  test('pod logs are line-masked by detectors; facts name the log subresource and container', async () => {
    const out = collect()
    await new Log(kc).log('team', 'web', 'app', out.stream, { tailLines: 10 })
    await ended(out.stream)
    expect(out.text()).not.toContain('alice@example.com')
    expect(out.text()).toMatch(/^started\nuser .+ logged in\nready\n$/)
    expect(lastCommand()).toMatchObject({
      action: 'kube.get',
      facts: { subresource: 'log', container: 'app', name: 'web' },
    })
  })

  test('a bad container surfaces the API Status as ApiException', async () => {
    const out = collect()
    const err = await new Log(kc).log('team', 'web', 'nope', out.stream).catch((e) => e)
    expect(err).toBeInstanceOf(k8s.ApiException)
    expect(err.code).toBe(400)
  })
})

describe('Exec, Attach, PortForward over the channel protocol', () => {
  test('exec: argv and container are facts; stdout arrives; the server saw the broker token on the upgrade', async () => {
    const out = collect()
    const statuses: k8s.V1Status[] = []
    await new Exec(kc).exec(
      'team',
      'web',
      'app',
      ['echo', 'hello', 'world'],
      out.stream,
      null,
      null,
      false,
      (s) => statuses.push(s),
    )
    await expect.poll(() => statuses.length).toBe(1)
    expect(statuses[0]!.status).toBe('Success')
    expect(out.text()).toBe('hello world\n')
    expect(lastCommand()).toMatchObject({
      action: 'kube.exec',
      facts: {
        verb: 'exec',
        resource: 'pods',
        subresource: 'exec',
        name: 'web',
        namespace: 'team',
        command: ['echo', 'hello', 'world'],
        container: 'app',
      },
    })
    const upgrade = server.seen.filter((s) => s.method === 'UPGRADE').at(-1)!
    expect(upgrade.authorization).toBe(`Bearer ${canary}`)
    expect(upgrade.protocol).toBe('v5.channel.k8s.io')
  })

  test('exec output is masked line by line; stdin reaches the command', async () => {
    const out = collect()
    const stdin = Readable.from(['first line\nmail to eve@', 'example.com please\n'])
    const statuses: k8s.V1Status[] = []
    await new Exec(kc).exec('team', 'web', 'app', ['cat'], out.stream, null, stdin, false, (s) =>
      statuses.push(s),
    )
    await expect.poll(() => statuses.length).toBe(1)
    expect(out.text()).toMatch(/^first line\nmail to .+ please\n$/)
    expect(out.text()).not.toContain('eve@example.com')
  })

  test('stderr and non-zero exit codes come back on their channels', async () => {
    const err = collect()
    const statuses: k8s.V1Status[] = []
    await new Exec(kc).exec('team', 'web', 'app', ['cat', '/missing'], null, err.stream, null, false, (s) =>
      statuses.push(s),
    )
    await expect.poll(() => statuses.length).toBe(1)
    expect(statuses[0]).toMatchObject({
      status: 'Failure',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '1' }] },
    })
    expect(err.text()).toBe('cat: /missing: No such file or directory\n')
  })

  test('a denied exec never dials; upstream Exec with this KubeConfig fails closed', async () => {
    const before = server.seen.length
    await expect(
      new Exec(kc).exec('team', 'web', 'app', ['rm', '-rf', '/data'], null, null, null, false),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'no-rm',
    })
    await expect(
      new k8s.Exec(kc).exec('team', 'web', 'app', ['echo', 'x'], null, null, null, false),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_UNSUPPORTED',
    })
    expect(server.seen.length).toBe(before)
  })

  test('v4 servers work too', async () => {
    const v4 = new KubeApiServer({
      acceptToken: (t) => t === canary,
      channelProtocols: ['v4.channel.k8s.io'],
      tls,
    })
    const v4Origin = await v4.listen()
    try {
      v4.seed('pods', 'default', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] } })
      const kc4 = new KubeConfig(session, {
        resource: 'dev',
        cluster: { server: v4Origin, caData: tls.caData },
      })
      const out = collect()
      const statuses: k8s.V1Status[] = []
      await new Exec(kc4).exec('default', 'p', 'c', ['hostname'], out.stream, null, null, false, (s) =>
        statuses.push(s),
      )
      await expect.poll(() => statuses.length).toBe(1)
      expect(out.text()).toBe('p\n')
      expect(v4.seen.at(-1)?.protocol).toBe('v4.channel.k8s.io')
    } finally {
      await v4.close()
    }
  })

  test('attach streams the container output (masked) and is its own action', async () => {
    const out = new PassThrough()
    let text = ''
    out.on('data', (c) => {
      text += c
    })
    const ws = await new Attach(kc).attach('team', 'web', 'app', out, null, null, false)
    await expect.poll(() => text).toMatch(/ready\n$/)
    expect(text).not.toContain('alice@example.com')
    expect(lastCommand()).toMatchObject({ action: 'kube.attach', facts: { container: 'app' } })
    ws.close()
  })

  test('port-forward is decided as kube.portforward and carries the token', async () => {
    const output = new PassThrough()
    let got = ''
    output.on('data', (c) => {
      got += c
    })
    const input = new PassThrough()
    const ws = (await new PortForward(kc).portForward('team', 'web', [8080], output, null, input)) as any
    input.write('ping')
    await expect.poll(() => got).toBe('echo:ping')
    expect(lastCommand()).toMatchObject({
      action: 'kube.portforward',
      facts: { verb: 'portforward', name: 'web' },
    })
    expect(server.seen.filter((s) => s.method === 'UPGRADE').at(-1)?.url).toContain('/portforward?ports=8080')
    ws.close()
  })
})

describe('long-lived streams end with their lease', () => {
  test('a watch and an attach opened with a short lease end cleanly when it expires', async () => {
    const shortAudit = memorySink()
    const short = createWarden({
      policy: compilePolicy(POLICY as any),
      broker: tokenBroker(1_500),
      audit: shortAudit,
    })
    try {
      const s = await short.session({ principal: { id: 'agent-2', type: 'agent' } })
      const kcShort = new KubeConfig(s, { resource: 'dev', cluster: { server: origin, caData: tls.caData } })
      let finished: unknown = 'open'
      await new Watch(kcShort).watch(
        '/api/v1/namespaces/team/pods',
        {},
        () => {},
        (err) => {
          finished = err
        },
      )
      const ws = await new Attach(kcShort).attach('team', 'web', 'app', new PassThrough(), null, null, false)
      let closed = false
      ws.addEventListener('close', () => {
        closed = true
      })
      await expect.poll(() => finished, { timeout: 10_000 }).toBeNull()
      await expect.poll(() => closed, { timeout: 10_000 }).toBe(true)
    } finally {
      await short.close()
    }
  })
})

describe('KubeConfig hygiene', () => {
  test('ambient-credential loaders and user edits are refused', () => {
    expect(() => kc.loadFromDefault()).toThrow(/disabled/)
    expect(() => kc.loadFromString()).toThrow(/disabled/)
    expect(() => kc.addUser()).toThrow(/disabled/)
    expect(() => new KubeConfig(session, { resource: 'dev', cluster: { server: 'ftp://x' } })).toThrow(
      TypeError,
    )
    expect(() => new KubeConfig(session, { resource: '', cluster: { server: origin } })).toThrow(TypeError)
  })

  test('TLS is verified: without the cluster CA the request fails and is audited as an error', async () => {
    const untrusted = new KubeConfig(session, { resource: 'dev', cluster: { server: origin } })
    const before = server.seen.length
    await expect(untrusted.makeApiClient(k8s.CoreV1Api).listNamespace()).rejects.toThrow()
    expect(server.seen.length).toBe(before)
    expect(lastCommand()).toMatchObject({ action: 'kube.list', outcome: { status: 'error' } })
  })

  test('switching the context to another cluster cannot carry the token there', async () => {
    const kc2 = new KubeConfig(session, { resource: 'dev', cluster: { server: origin, caData: tls.caData } })
    kc2.addCluster({ name: 'evil', server: decoyOrigin, skipTLSVerify: false })
    kc2.addContext({ name: 'evil', cluster: 'evil', user: 'warden' })
    kc2.setCurrentContext('evil')
    const before = decoy.seen.length
    await expect(
      new Exec(kc2).exec('team', 'web', 'app', ['echo', 'x'], null, null, null, false),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_CONFIG',
    })
    expect(decoy.seen.length).toBe(before)
  })

  test('the token appears in no inspect output, audit record or error', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    await core.readNamespacedSecret({ name: 'db', namespace: 'team' })
    const err = await core.readNamespacedConfigMap({ name: 'nope', namespace: 'team' }).catch((e) => e)
    expect(inspect(kc, { depth: 10, showHidden: true })).not.toContain(canary)
    expect(inspect(core, { depth: 10 })).not.toContain(canary)
    expect(inspect(err, { depth: 10 })).not.toContain(canary)
    expect(kc.exportConfig()).not.toContain(canary)
    expect(JSON.stringify(audit.records)).not.toContain(canary)
    expect(server.seen.some((s) => s.authorization === `Bearer ${canary}`)).toBe(true)
  })
})

// A per-call middleware that can change the request (Accept, query) and records every body the driver hands
// back to it: what a caller reading the raw response would see.
function tap(opts: { accept?: string; acceptKey?: string; query?: Record<string, string> } = {}) {
  const bodies: string[] = []
  const observable = <T>(v: T | Promise<T>) => ({ toPromise: () => Promise.resolve(v) })
  const middleware = {
    pre: (ctx: k8s.RequestContext) => {
      if (opts.accept !== undefined) ctx.setHeaderParam(opts.acceptKey ?? 'Accept', opts.accept)
      for (const [k, v] of Object.entries(opts.query ?? {})) ctx.setQueryParam(k, v)
      return observable(ctx)
    },
    post: (rsp: k8s.ResponseContext) =>
      observable(
        rsp.body.text().then((t) => {
          bodies.push(t)
          return rsp
        }),
      ),
  }
  return { options: { middleware: [middleware], middlewareMergeStrategy: 'append' } as any, bodies }
}

const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io, application/json'

describe('Secrets stay masked whatever encoding the caller asks for', () => {
  test('a YAML Accept (setHeaderOptions) on a Secret read is refused before anything is sent', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const before = server.seen.length
    const t = tap()
    const err = await core
      .readNamespacedSecret(
        { name: 'db', namespace: 'team' },
        k8s.setHeaderOptions('Accept', 'application/yaml', t.options),
      )
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_MASKING' })
    expect(err.message).toMatch(/application\/yaml/)
    expect(server.seen.length).toBe(before)
    expect(t.bodies).toEqual([])
    expect(lastCommand()).toMatchObject({ action: 'kube.get', outcome: { status: 'error' } })
  })

  test('a write asking for YAML is refused, so it is never performed', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const err = await core
      .createNamespacedSecret(
        { namespace: 'team', body: { metadata: { name: 'yaml-made' }, stringData: { k: SECRET_VALUE } } },
        k8s.setHeaderOptions('Accept', 'application/yaml'),
      )
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_MASKING' })
    expect(server.get('secrets', 'team', 'yaml-made')).toBeUndefined()
  })

  test('protobuf via per-call middleware (lower-case accept, or listed before JSON) is refused', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const before = server.seen.length
    for (const t of [
      tap({ accept: 'application/vnd.kubernetes.protobuf', acceptKey: 'accept' }),
      tap({ accept: 'application/vnd.kubernetes.protobuf, application/json' }),
    ]) {
      const err = await core.listNamespacedSecret({ namespace: 'team' }, t.options).catch((e) => e)
      expect(err).toMatchObject({ code: 'ERR_WARDEN_MASKING' })
      expect(t.bodies).toEqual([])
    }
    expect(server.seen.length).toBe(before)
  })

  test('a server answering YAML or protobuf to a JSON request is refused, not passed through', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    for (const encoding of ['yaml', 'protobuf'] as const) {
      server.ignoreAccept = encoding
      try {
        const t = tap()
        const err = await core
          .readNamespacedSecret({ name: 'db', namespace: 'team' }, t.options)
          .catch((e) => e)
        expect(err).toMatchObject({ code: 'ERR_WARDEN_MASKING' })
        expect(t.bodies).toEqual([])
      } finally {
        server.ignoreAccept = undefined
      }
    }
    expect(server.seen.at(-1)?.accept).toBe('application/json, */*;q=0.8')
  })

  test('a watch answered in protobuf ends with ERR_WARDEN_MASKING and delivers nothing', async () => {
    server.ignoreAccept = 'protobuf'
    try {
      const events: unknown[] = []
      let finished: unknown = 'open'
      await new Watch(kc).watch(
        '/api/v1/namespaces/team/secrets',
        {},
        (_type, obj) => events.push(obj),
        (err) => {
          finished = err
        },
      )
      await expect.poll(() => finished).not.toBe('open')
      expect(finished).toMatchObject({ code: 'ERR_WARDEN_MASKING' })
      expect(events).toEqual([])
    } finally {
      server.ignoreAccept = undefined
    }
  })

  test('Table responses mask each row: includeObject=Object and the default metadata rows', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const full = tap({ accept: TABLE, query: { includeObject: 'Object' } })
    await core.listNamespacedSecret({ namespace: 'team' }, full.options).catch(() => {})
    const table = JSON.parse(full.bodies[0]!)
    expect(table).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1' })
    expect(table.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'Type', 'Data', 'Age'])
    const row = (name: string) => table.rows.find((r: any) => r.cells[0] === name)
    expect(row('db').cells.slice(0, 3)).toEqual(['db', 'Opaque', 1])
    expect(row('db').object.data).toEqual({ password: b64('***') })
    expect(row('db').object.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe(
      '***',
    )
    expect(row('visible').object.data).toEqual({ token: b64('shown-on-purpose') })
    expect(full.bodies[0]).not.toContain(b64(SECRET_VALUE))
    expect(full.bodies[0]).not.toContain(SECRET_VALUE)
    expect(lastCommand()).toMatchObject({ action: 'kube.list', outcome: { status: 'ok' } })

    const meta = tap({ accept: TABLE })
    await core.readNamespacedSecret({ name: 'db', namespace: 'team' }, meta.options).catch(() => {})
    const one = JSON.parse(meta.bodies[0]!)
    expect(one.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata' })
    expect(one.rows[0].object.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe(
      '***',
    )
    expect(meta.bodies[0]).not.toContain(SECRET_VALUE)
  })

  test('Table watch events (column definitions in the first only) are masked event by event', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const w = tap({ accept: TABLE, query: { includeObject: 'Object' } })
    await core
      .listNamespacedSecret({ namespace: 'team', watch: true, timeoutSeconds: 1 }, w.options)
      .catch(() => {})
    const events = w.bodies[0]!.trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(events.length).toBeGreaterThanOrEqual(2)
    expect(events[0].object.columnDefinitions).toHaveLength(4)
    expect(events[1].object.columnDefinitions).toEqual([])
    for (const e of events) {
      expect(e.type).toBe('ADDED')
      const [row] = e.object.rows
      expect(typeof row.cells[0]).toBe('string')
      if (row.cells[0] !== 'visible')
        for (const v of Object.values(row.object.data)) expect(v).toBe(b64('***'))
    }
    expect(w.bodies[0]).not.toContain(b64(SECRET_VALUE))
    expect(w.bodies[0]).not.toContain(SECRET_VALUE)
  })

  test('PartialObjectMetadataList of Secrets masks the last-applied annotation', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const m = tap({ accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1' })
    await core.listNamespacedSecret({ namespace: 'team' }, m.options).catch(() => {})
    const list = JSON.parse(m.bodies[0]!)
    expect(list.kind).toBe('PartialObjectMetadataList')
    const db = list.items.find((i: any) => i.metadata.name === 'db')
    expect(db.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe('***')
    expect(m.bodies[0]).not.toContain(SECRET_VALUE)
  })

  test('non-secret resources work as before: pod YAML, pod logs as text, configmap Tables', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    // No policy masks apply to pods and a Pod holds no Secret: YAML is handed out (the client cannot parse it).
    const y = tap({ accept: 'application/yaml' })
    const err = await core.readNamespacedPod({ name: 'web', namespace: 'team' }, y.options).catch((e) => e)
    expect(err.code).toBeUndefined()
    expect(y.bodies[0]).toMatch(/^kind: "Pod"$/m)
    expect(y.bodies[0]).toMatch(/^ {2}name: "web"$/m)
    const log = await core.readNamespacedPodLog({ name: 'web', namespace: 'team', container: 'app' })
    expect(log).toMatch(/^started\nuser .+ logged in\nready\n$/)
    expect(log).not.toContain('alice@example.com')
    const t = tap({ accept: TABLE })
    await core.listNamespacedConfigMap({ namespace: 'team' }, t.options).catch(() => {})
    const table = JSON.parse(t.bodies[0]!)
    expect(table.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'Data', 'Age'])
    expect(table.rows.find((r: any) => r.cells[0] === 'cfg').cells[1]).toBe(1)
  })

  test('YAML is refused where policy masks apply by key path (configmaps here)', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const err = await core
      .readNamespacedConfigMap(
        { name: 'cfg', namespace: 'team' },
        k8s.setHeaderOptions('Accept', 'application/yaml'),
      )
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_MASKING' })
    expect(err.message).toMatch(/policy masks/)
  })

  test('an API server redirect is refused: the token never follows it', async () => {
    const path = '/api/v1/namespaces/team/configmaps/moved'
    server.redirect(path, `${decoyOrigin}${path}`)
    const before = decoy.seen.length
    const err = await kc
      .makeApiClient(k8s.CoreV1Api)
      .readNamespacedConfigMap({ name: 'moved', namespace: 'team' })
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
    expect(err.message).toMatch(/redirect \(307\)/)
    expect(decoy.seen.length).toBe(before)
    expect(server.seen.filter((s) => s.url === path)).toHaveLength(1)
    expect(lastCommand()).toMatchObject({ action: 'kube.get', outcome: { status: 'error' } })
  })
})
