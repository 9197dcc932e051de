// bench/ssh: (1) describeShell µs per line — short/medium/long, cached and uncached; (2) added latency
// per exec against a real OpenSSH sshd: raw ssh2 Client vs the guarded Client vs the raw Client through
// a TCP relay hop, same certificate login, same connection kept open, in the same run (interleaved rounds).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createWarden, jsonlSink, revealSecret, Secret } from '@warden/core'
import { Client, describeShell, loadShellParser, sshCaBroker } from '@warden/drivers/ssh'
import { compilePolicy } from '@warden/policy'
import ssh2 from 'ssh2'
import { loadBashParser } from '../../packages/drivers/src/ssh/internal/bash-parser.js'
import { certificateKey, enableCertificateAuth } from '../../packages/drivers/src/ssh/ssh2-internals.js'
import { LOGIN, startSshd } from '../../packages/drivers/test/ssh/sshd.js'
import { tcpRelay } from '../relay.js'
import { stats, writeSection } from '../results.js'
import { writeFigures } from '../summary/figures.js'

// ---- 1. describeShell ----------------------------------------------------------------------------
const t0 = performance.now()
await loadShellParser()
const loadMs = performance.now() - t0

const SHORT = 'ls -la /var/log'
const MEDIUM =
  'cd /srv/app && git fetch origin && git log --oneline -n 5 | grep -v WIP | head -3; sudo -u deploy systemctl restart app.service && curl -fsS http://127.0.0.1:8080/health'
const LONG = Array.from(
  { length: 28 },
  (_, i) =>
    `if test -f /etc/app/conf.${i}; then grep -c "key_${i}=" /etc/app/conf.${i} | tee -a /tmp/report.txt; else echo "missing ${i}" >&2; fi`,
).join('\n')

function describeUs(make: (i: number) => string, n: number): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const text = make(i)
    const t = performance.now()
    const facts = describeShell(text)
    out.push((performance.now() - t) * 1000)
    if (facts instanceof Promise || !facts.parsed)
      throw new Error(`bench: ${text.slice(0, 40)}… did not parse`)
  }
  return out
}
const parser = await loadBashParser()
function parseUs(make: (i: number) => string, n: number): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const text = make(i)
    const t = performance.now()
    parser.parse(text)?.delete()
    out.push((performance.now() - t) * 1000)
  }
  return out
}
const lines: [string, string][] = [
  ['short', SHORT],
  ['medium', MEDIUM],
  ['long', LONG],
]
const describeRows: string[] = []
const metrics: { key: string; label: string; value: number; unit: 'µs' }[] = []
for (const [name, text] of lines) {
  const n = name === 'long' ? 400 : 4000
  describeUs((i) => `${text} #${i}`, Math.min(n, 500)) // warm-up
  const parseOnly = stats(parseUs((i) => `${text} #p${i}`, n))
  const uncached = stats(describeUs((i) => `${text} #w${i}`, n))
  describeShell(text)
  const cached = stats(describeUs(() => text, n))
  describeRows.push(
    `| ${name} | ${text.length} | ${parseOnly.median.toFixed(1)} | ${uncached.median.toFixed(1)} | ${uncached.p99.toFixed(1)} | ${cached.median.toFixed(2)} |`,
  )
  metrics.push({
    key: `describe.shell.${name}.uncached`,
    label: `describeShell ${name} uncached`,
    value: uncached.median,
    unit: 'µs',
  })
  metrics.push({
    key: `describe.shell.${name}.cached`,
    label: `describeShell ${name} cached`,
    value: cached.median,
    unit: 'µs',
  })
}

// ---- 2. exec latency against sshd ----------------------------------------------------------------
const sshd = await startSshd()
const dir = mkdtempSync(join(tmpdir(), 'warden-bench-ssh-'))
const broker = sshCaBroker({
  caKey: new Secret(sshd.caKey),
  principals: { bench: { logins: [LOGIN] } },
  ttl: '30m',
  hostKeys: { bench: [sshd.hostKey] },
})
const warden = createWarden({
  policy: compilePolicy({
    defaults: { effect: 'deny' },
    rules: [
      {
        name: 'true-only',
        when: 'action == "ssh.exec" && shell.parsed && shell.programs == ["true"]',
        effect: 'allow',
      },
    ],
  } as never),
  broker,
  audit: jsonlSink(join(dir, 'audit.jsonl'), { fsync: 'batch' }),
})
const session = await warden.session({ principal: { id: 'bench', type: 'service' } })

const relay = await tcpRelay('127.0.0.1', sshd.port)

async function rawClient(port = sshd.port): Promise<ssh2.Client> {
  const lease = await broker.issue({
    resource: { kind: 'ssh', name: 'bench', labels: {} },
    principal: session.principal,
    scope: '',
  })
  if (lease.credential.type !== 'ssh') throw new Error('ssh')
  const { username, privateKey, certificate } = lease.credential
  const client = new ssh2.Client()
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject)
    client.connect({
      host: '127.0.0.1',
      port,
      username,
      authHandler: [
        { type: 'publickey', username, key: certificateKey(revealSecret(privateKey), certificate!) } as never,
      ],
    })
    enableCertificateAuth(client)
  })
  client.setNoDelay(true)
  return client
}

async function guardedClient(recordings: string | false): Promise<ssh2.Client> {
  const client = new Client(session)
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject)
    client.connect({ host: '127.0.0.1', port: sshd.port, resource: 'bench', recordings })
  })
  client.setNoDelay(true)
  return client
}

const run = (client: ssh2.Client) =>
  new Promise<void>((resolve, reject) =>
    client.exec('true', (err, ch) => {
      if (err) return reject(err)
      ch.resume()
      ch.once('close', () => resolve())
    }),
  )

async function latency(client: ssh2.Client, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await run(client)
    out.push((performance.now() - t) * 1000)
  }
  return out
}

const variants: [string, ssh2.Client][] = [
  ['raw ssh2', await rawClient()],
  ['guarded, recording off', await guardedClient(false)],
  ['guarded, recording on', await guardedClient(join(dir, 'casts'))],
  ['raw ssh2 through a TCP relay hop', await rawClient(relay.port)],
]
for (const [, c] of variants) await latency(c, 20) // warm-up
const ROUNDS = 4
const PER_ROUND = 40
const samples = new Map<string, number[]>(variants.map(([n]) => [n, []]))
for (let r = 0; r < ROUNDS; r++)
  for (const [name, c] of variants) samples.get(name)!.push(...(await latency(c, PER_ROUND)))
const rawExec = stats(samples.get('raw ssh2')!)
const execRows = variants.map(([name]) => {
  const s = stats(samples.get(name)!)
  return `| ${name} | ${(s.median / 1000).toFixed(2)} | ${(s.p99 / 1000).toFixed(2)} | ${(s.median - rawExec.median).toFixed(0)} |`
})

const md = `## ssh: \`describeShell\` and guarded \`exec\` vs raw ssh2 vs a proxy hop

**describeShell** (web-tree-sitter + tree-sitter-bash, walker and wrapper unwrapping; parser load ${loadMs.toFixed(0)} ms once).
Uncached = a new text each call (parse + walk + wrapper unwrapping + deep-freeze + cache insert); cached = the same
text again (LRU hit). "parse only" is the bare tree-sitter parse of the same texts, for scale.

| line | chars | tree-sitter parse only, median µs | describeShell uncached median µs | uncached p99 µs | cached median µs |
| --- | ---: | ---: | ---: | ---: | ---: |
${describeRows.join('\n')}

**exec latency** against a real OpenSSH ${'sshd'} on loopback (certificate login from \`sshCaBroker\`, one open connection per
variant, TCP_NODELAY on both): \`exec('true')\` until the channel closes, sequential, ${ROUNDS}×${PER_ROUND} per variant, interleaved. Guarded =
describeShell + decide (allow) + hash-chained \`jsonlSink\` (fsync batch) + output hooks; "recording on" also writes an
asciicast file per exec.

| variant | median ms | p99 ms | added median µs |
| --- | ---: | ---: | ---: |
${execRows.join('\n')}`
console.log(md)
writeSection('ssh', md)
const fig = (name: string) => {
  const s = stats(samples.get(name)!)
  return { medianUs: s.median, p99Us: s.p99 }
}
writeFigures('ssh', {
  drivers: [
    {
      driver: 'ssh',
      workload: "exec('true'), c=1",
      raw: fig('raw ssh2'),
      guarded: fig('guarded, recording off'),
      proxy: fig('raw ssh2 through a TCP relay hop'),
    },
  ],
  metrics,
})

for (const [, c] of variants) c.end()
await warden.close()
await relay.close()
await sshd.stop()
rmSync(dir, { recursive: true, force: true })
