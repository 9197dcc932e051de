// bench/fetch: raw fetch vs Warden's guarded fetch vs raw fetch through a TCP relay hop, against one
// local node:http server, in the same run.
// Both use their own undici Agent with keep-alive. The guarded side runs the full pipeline per request:
// describe → decide (allow rule) → lease (cached) → credential header → fetch → audit (jsonl file, fsync batch);
// a second guarded variant also masks the JSON body (path rule + email detector).
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Broker, createWarden, jsonlSink, Secret } from '@warden/core'
import { createFetch } from '@warden/drivers/fetch'
import { compilePolicy } from '@warden/policy'
import { Agent } from 'undici'
import { tcpRelay } from '../relay.js'
import { stats, writeSection } from '../results.js'
import { writeFigures } from '../summary/figures.js'

const BODY = JSON.stringify({ id: 42, user: { name: 'Ada', email: 'ada@example.com' }, items: [1, 2, 3] })
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) })
  res.end(BODY)
})
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const relay = await tcpRelay('127.0.0.1', (server.address() as AddressInfo).port)

const broker: Broker = {
  async issue() {
    return {
      id: 'bench',
      credential: { type: 'token', token: new Secret('bench-token') },
      expiresAt: new Date(Date.now() + 3_600_000),
      renewable: false,
    }
  },
  async revoke() {},
}
const policy = compilePolicy({
  defaults: { effect: 'deny' },
  rules: [{ name: 'reads', when: 'http.method == "GET"', effect: 'allow' }],
  masks: [
    {
      name: 'pii-cols',
      resources: ['http:*'],
      when: 'http.path == "/masked"',
      columns: ['user.email'],
      strategy: 'redact',
    },
    {
      name: 'pii-detect',
      resources: ['http:*'],
      when: 'http.path == "/masked"',
      detectors: ['email'],
      strategy: 'redact',
    },
  ],
} as any)
const dir = mkdtempSync(join(tmpdir(), 'warden-bench-fetch-'))
const warden = createWarden({
  policy,
  broker,
  audit: jsonlSink(join(dir, 'audit.jsonl'), { fsync: 'batch' }),
})
const session = await warden.session({ principal: { id: 'bench', type: 'service' } })

const rawAgent = new Agent()
const raw = (url: string) => fetch(url, { dispatcher: rawAgent } as unknown as RequestInit)
const guarded = createFetch(session, { resource: 'bench-api', origin })

type F = (url: string) => Promise<Response>
const one = async (f: F, url: string) => {
  const res = await f(url)
  await res.arrayBuffer()
}

async function latency(f: F, url: string, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await one(f, url)
    out.push((performance.now() - t) * 1000)
  }
  return out
}

async function throughput(f: F, url: string, total: number, concurrency: number): Promise<number> {
  let next = 0
  const t = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) await one(f, url)
    }),
  )
  return total / ((performance.now() - t) / 1000)
}

const variants: [string, F, string][] = [
  ['raw fetch', raw, `${origin}/plain`],
  ['guarded, no masks', guarded, `${origin}/plain`],
  ['guarded, JSON masked', guarded, `${origin}/masked`],
  ['raw fetch through a TCP relay hop', raw, `http://127.0.0.1:${relay.port}/plain`],
]

// Warm-up: JIT, keep-alive sockets, lease cache, mask plan.
for (const [, f, url] of variants) await latency(f, url, 500)

// Interleaved rounds so drift hits every variant alike.
const ROUNDS = 4
const lat = new Map<string, number[]>(variants.map(([n]) => [n, []]))
const tput = new Map<string, number[]>(variants.map(([n]) => [n, []]))
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, f, url] of variants) lat.get(name)!.push(...(await latency(f, url, 600)))
  for (const [name, f, url] of variants) tput.get(name)!.push(await throughput(f, url, 3000, 16))
}

const rawLat = stats(lat.get('raw fetch')!)
const rawTput = stats(tput.get('raw fetch')!).median
const rows = variants.map(([name]) => {
  const l = stats(lat.get(name)!)
  const t = stats(tput.get(name)!).median
  return `| ${name} | ${l.median.toFixed(0)} | ${l.p99.toFixed(0)} | ${(l.median - rawLat.median).toFixed(0)} | ${t.toFixed(0)} | ${(t / rawTput).toFixed(2)}× |`
})
const md = `## fetch: raw \`fetch\` vs guarded \`createFetch\` vs a proxy hop

One local \`node:http\` server (a ${BODY.length}-byte JSON body), keep-alive undici Agents on both sides. Guarded =
describe + \`decide\` (allow) + cached lease + bearer header + hash-chained \`jsonlSink\` (fsync batch) per request;
"JSON masked" also buffers and masks the body (path rule + email detector). Latency: sequential requests,
${ROUNDS}×600 per variant, interleaved; throughput: ${ROUNDS}×3000 requests at concurrency 16 (median of rounds).

| variant | median µs | p99 µs | added median µs | req/s (c=16) | vs raw |
| --- | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}`
console.log(md)
writeSection('fetch', md)
const figure = (name: string) => {
  const l = stats(lat.get(name)!)
  return { medianUs: l.median, p99Us: l.p99, opsPerSec: stats(tput.get(name)!).median }
}
writeFigures('fetch', {
  drivers: [
    {
      driver: 'fetch',
      workload: 'GET, 73-byte JSON; latency c=1, throughput c=16',
      raw: figure('raw fetch'),
      guarded: figure('guarded, no masks'),
      guardedMasked: figure('guarded, JSON masked'),
      proxy: figure('raw fetch through a TCP relay hop'),
    },
  ],
})

await warden.close()
await rawAgent.close()
await relay.close()
server.close()
rmSync(dir, { recursive: true, force: true })
