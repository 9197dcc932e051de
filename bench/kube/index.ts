// bench/kube: raw @kubernetes/client-node vs Warden's guarded KubeConfig vs the raw client through a
// TCP relay hop, against the repo's Kubernetes API server double over HTTPS, in the same run. No real
// API server can run on these machines (see packages/drivers/docs/kube.md); the double answers from
// memory, so the figures isolate client-side cost: what Warden adds, not what a cluster costs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as k8s from '@kubernetes/client-node'
import { type Broker, createWarden, jsonlSink, Secret } from '@warden/core'
import { KubeConfig } from '@warden/drivers/kube'
import { compilePolicy } from '@warden/policy'
import { Agent } from 'undici'
import { KubeApiServer } from '../../packages/drivers/test/kube/api-server.js'
import { selfSigned } from '../../packages/drivers/test/kube/self-signed.js'
import { tcpRelay } from '../relay.js'
import { stats, writeSection } from '../results.js'
import { writeFigures } from '../summary/figures.js'

const TOKEN = 'bench-token'
const tls = selfSigned()
const server = new KubeApiServer({ acceptToken: (t) => t === TOKEN, tls })
const origin = await server.listen()
const port = Number(new URL(origin).port)
const relay = await tcpRelay('127.0.0.1', port)
server.seed('namespaces', '', { metadata: { name: 'team' } })
server.seed('pods', 'team', {
  metadata: { name: 'web', labels: { app: 'web' } },
  spec: { containers: [{ name: 'app', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] },
  status: { phase: 'Running', podIP: '10.0.0.7' },
})
server.seed('secrets', 'team', {
  metadata: { name: 'db' },
  type: 'Opaque',
  data: {
    username: Buffer.from('app').toString('base64'),
    password: Buffer.from('hunter2').toString('base64'),
  },
})

const broker: Broker = {
  async issue() {
    return {
      id: 'bench',
      credential: { type: 'token', token: new Secret(TOKEN) },
      expiresAt: new Date(Date.now() + 3_600_000),
      renewable: false,
    }
  },
  async revoke() {},
}
const dir = mkdtempSync(join(tmpdir(), 'warden-bench-kube-'))
const warden = createWarden({
  policy: compilePolicy({
    defaults: { effect: 'deny' },
    rules: [
      { name: 'writes', when: 'kube.verb in ["create", "update", "patch", "delete"]', effect: 'deny' },
      { name: 'reads', when: 'kube.verb in ["get", "list", "watch"]', effect: 'allow' },
    ],
  } as never),
  broker,
  audit: jsonlSink(join(dir, 'audit.jsonl'), { fsync: 'batch' }),
})
const session = await warden.session({ principal: { id: 'bench', type: 'service' } })

function rawConfig(server: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: 'bench', server, caData: tls.caData }],
    users: [{ name: 'bench', token: TOKEN }],
    contexts: [{ name: 'bench', cluster: 'bench', user: 'bench', namespace: 'team' }],
    currentContext: 'bench',
  })
  return kc
}
const guardedConfig = new KubeConfig(session, {
  resource: 'bench',
  cluster: { server: origin, caData: tls.caData },
  namespace: 'team',
})
/**
 * The raw library over the same HTTP stack the guarded client uses (undici, keep-alive, bearer token):
 * the fair baseline for Warden's own cost. The library's default stack (node-fetch, a new https.Agent
 * and so a new TLS handshake per call in 1.x) is measured too, as what an application gets by default.
 */
function keepAliveApi(server: string): k8s.CoreV1Api {
  const dispatcher = new Agent({
    connect: { ca: Buffer.from(tls.caData, 'base64') },
  })
  const httpApi = k8s.wrapHttpLibrary({
    send: async (ctx) => {
      const headers = new Headers(ctx.getHeaders())
      headers.set('authorization', `Bearer ${TOKEN}`)
      const res = await fetch(ctx.getUrl(), {
        method: ctx.getHttpMethod().toString(),
        headers,
        body: (ctx.getBody() as string | undefined) ?? undefined,
        dispatcher,
      } as RequestInit)
      const text = await res.text()
      const h: Record<string, string> = {}
      res.headers.forEach((v, k) => {
        h[k] = v
      })
      return new k8s.ResponseContext(res.status, h, {
        text: async () => text,
        binary: async () => Buffer.from(text),
      })
    },
  })
  return new k8s.CoreV1Api(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration<Record<string, string>>(server, {}),
      authMethods: {},
      httpApi,
    }),
  )
}
const api = {
  libraryDefault: rawConfig(origin).makeApiClient(k8s.CoreV1Api),
  raw: keepAliveApi(origin),
  guarded: guardedConfig.makeApiClient(k8s.CoreV1Api),
  proxy: keepAliveApi(`https://127.0.0.1:${relay.port}`),
}

type Call = () => Promise<unknown>
const variants: [string, Call][] = [
  [
    'raw client, library default HTTP stack, get pod',
    () => api.libraryDefault.readNamespacedPod({ name: 'web', namespace: 'team' }),
  ],
  ['raw client, get pod', () => api.raw.readNamespacedPod({ name: 'web', namespace: 'team' })],
  ['guarded, get pod', () => api.guarded.readNamespacedPod({ name: 'web', namespace: 'team' })],
  [
    'raw client through a TCP relay hop, get pod',
    () => api.proxy.readNamespacedPod({ name: 'web', namespace: 'team' }),
  ],
  ['raw client, get Secret', () => api.raw.readNamespacedSecret({ name: 'db', namespace: 'team' })],
  [
    'guarded, get Secret (data masked)',
    () => api.guarded.readNamespacedSecret({ name: 'db', namespace: 'team' }),
  ],
]

const masked = (await api.guarded.readNamespacedSecret({ name: 'db', namespace: 'team' })) as k8s.V1Secret
if (masked.data?.password === Buffer.from('hunter2').toString('base64'))
  throw new Error('bench: Secret data is not masked in the guarded client')

async function latency(call: Call, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await call()
    out.push((performance.now() - t) * 1000)
  }
  return out
}

async function throughput(call: Call, total: number, concurrency: number): Promise<number> {
  let next = 0
  const t = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await call()
    }),
  )
  return total / ((performance.now() - t) / 1000)
}

const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(' / ')
for (const [, call] of variants) await latency(call, 300) // warm-up: JIT, TLS sessions, lease cache
const ROUNDS = 4
const lat = new Map<string, number[]>(variants.map(([n]) => [n, []]))
const tput = new Map<string, number[]>(variants.map(([n]) => [n, []]))
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, call] of variants) lat.get(name)!.push(...(await latency(call, 400)))
  for (const [name, call] of variants) tput.get(name)!.push(await throughput(call, 2000, 8))
}

const figure = (name: string) => {
  const l = stats(lat.get(name)!)
  return { medianUs: l.median, p99Us: l.p99, opsPerSec: stats(tput.get(name)!).median }
}
const row = (name: string, rawName: string) => {
  const f = figure(name)
  const raw = figure(rawName)
  return `| ${name} | ${f.medianUs.toFixed(0)} | ${f.p99Us.toFixed(0)} | ${(f.medianUs - raw.medianUs).toFixed(0)} | ${f.opsPerSec.toFixed(0)} | ${(f.opsPerSec / raw.opsPerSec).toFixed(2)}× |`
}
const md = `## kube: raw \`@kubernetes/client-node\` vs guarded \`KubeConfig\` vs a proxy hop

\`CoreV1Api.readNamespacedPod\` and \`readNamespacedSecret\` against the repo's API server double (HTTPS on loopback,
answers from memory; no real API server can run here), \`@kubernetes/client-node\` ${k8sVersion()} on both sides.
Guarded = describe (verb/resource/namespace/name) + \`decide\` (allow) + cached broker token + undici request +
hash-chained \`jsonlSink\` (fsync batch); the Secret variant also masks \`data\`. "raw client" is the library's generated
API over the same undici keep-alive stack as the guarded client, so the difference is Warden's; "library default HTTP
stack" is the raw client as configured by \`KubeConfig.loadFromOptions\` (node-fetch, a new TLS connection per call in
1.x), what an application gets without tuning. Latency: sequential calls, ${ROUNDS}×400 per variant, interleaved; throughput: ${ROUNDS}×2000 calls at
concurrency 8 (median of rounds). Load average at the start: ${load}.

| variant | median µs | p99 µs | added median µs | calls/s (c=8) | vs raw |
| --- | ---: | ---: | ---: | ---: | ---: |
${[
  row('raw client, library default HTTP stack, get pod', 'raw client, get pod'),
  row('raw client, get pod', 'raw client, get pod'),
  row('guarded, get pod', 'raw client, get pod'),
  row('raw client through a TCP relay hop, get pod', 'raw client, get pod'),
  row('raw client, get Secret', 'raw client, get Secret'),
  row('guarded, get Secret (data masked)', 'raw client, get Secret'),
].join('\n')}`
console.log(md)
writeSection('kube', md)
writeFigures('kube', {
  drivers: [
    {
      driver: 'kube',
      workload: 'get pod (API server double, HTTPS); latency c=1, throughput c=8',
      raw: figure('raw client, get pod'),
      guarded: figure('guarded, get pod'),
      proxy: figure('raw client through a TCP relay hop, get pod'),
    },
  ],
})

function k8sVersion(): string {
  try {
    return (
      JSON.parse(
        readFileSync(
          new URL('../../node_modules/@kubernetes/client-node/package.json', import.meta.url),
          'utf8',
        ),
      ) as { version: string }
    ).version
  } catch {
    return '(version unknown)'
  }
}

await warden.close()
await relay.close()
await server.close()
rmSync(dir, { recursive: true, force: true })
