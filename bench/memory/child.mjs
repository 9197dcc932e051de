// One measured process for bench/memory: loads one set of modules, opens one PostgreSQL pool, runs
// one query, then prints process.memoryUsage() after GC as JSON. Plain JS so it runs on dist/
// without a TypeScript loader (which would add its own memory).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const mode = process.argv[2]
const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: 'postgres',
}
const keep = []
const dir = mkdtempSync(join(tmpdir(), 'warden-bench-memory-'))

if (mode === 'raw') {
  const pg = (await import('pg')).default
  keep.push(
    await import('mysql2/promise'),
    await import('ssh2'),
    await import('@kubernetes/client-node'),
    await import('undici'),
  )
  const pool = new pg.Pool({ ...PG, user: 'postgres', max: 1 })
  await pool.query('SELECT 1')
  keep.push(pool)
} else if (mode === 'guarded' || mode === 'guarded+parsers') {
  const { createWarden, jsonlSink, staticBroker } = await import('@warden/core')
  const { compilePolicy } = await import('@warden/policy')
  const { Pool } = await import('@warden/drivers/pg')
  const mysql = await import('@warden/drivers/mysql')
  const ssh = await import('@warden/drivers/ssh')
  keep.push(mysql, ssh, await import('@warden/drivers/kube'), await import('@warden/drivers/fetch'))
  const warden = createWarden({
    policy: compilePolicy('defaults: { effect: allow }\nrules: []\n'),
    broker: staticBroker({
      credentials: {
        'postgres:*': { type: 'password', username: 'postgres', password: 'unused-trust-auth' },
      },
    }),
    audit: jsonlSink(join(dir, 'audit.jsonl'), { fsync: 'batch' }),
  })
  const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
  const pool = new Pool(session, { ...PG, resource: 'main', max: 1 })
  await pool.query('SELECT 1')
  if (mode === 'guarded+parsers') {
    await mysql.describeMysql('SELECT 1')
    await ssh.describeShell('ls -l')
  }
  keep.push(warden, session, pool)
} else if (mode !== 'baseline') {
  throw new Error(`unknown mode ${mode}`)
}

await sleep(300)
for (let i = 0; i < 4; i++) {
  globalThis.gc?.()
  await sleep(20)
}
const m = process.memoryUsage()
process.stdout.write(
  `${JSON.stringify({ mode, rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })}\n`,
)
rmSync(dir, { recursive: true, force: true })
process.exit(0)
