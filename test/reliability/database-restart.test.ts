// The database crashes and restarts while a guarded pg Pool is busy. Commands in flight or issued
// while it is down fail with the driver's error; the pool then recovers on its own; every command
// has exactly one audit record (none twice, none lost), every command audited `ok` is in the
// database, and the hash chain verifies. Runs on a private throwaway cluster, never the shared one.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type AuditRecord, createWarden, jsonlSink, readAudit, verifyChain, type Warden } from '@warden/core'
import { stubBroker } from '@warden/core/testing'
import { Pool } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startPostgres, type ThrowawayPostgres } from './helpers.js'

let cluster: ThrowawayPostgres
let warden: Warden
let pool: Pool
const dir = mkdtempSync(join(tmpdir(), 'warden-rel-dbrestart-'))
const file = join(dir, 'audit.jsonl')

beforeAll(async () => {
  cluster = await startPostgres()
  const admin = new pg.Client(cluster.config)
  await admin.connect()
  await admin.query('CREATE TABLE events (id int PRIMARY KEY)')
  await admin.end()
  warden = createWarden({
    policy: compilePolicy(
      "defaults: { effect: deny }\nrules:\n  - { name: inserts, when: 'sql.parsed && sql.types == [\"INSERT\"]', effect: allow }\n  - { name: counts, when: 'sql.parsed && !sql.write', effect: allow }\n",
    ),
    broker: stubBroker({ username: 'postgres' }),
    audit: jsonlSink(file, { fsync: 'batch' }),
  })
  const session = await warden.session({ principal: { id: 'svc-ingest', type: 'service' } })
  pool = new Pool(session, { ...cluster.config, resource: 'events', max: 4, connectionTimeoutMillis: 2_000 })
}, 60_000)

afterAll(async () => {
  await pool?.end().catch(() => {})
  await warden?.close().catch(() => {})
  cluster?.destroy()
  rmSync(dir, { recursive: true, force: true })
})

it('crash + restart mid-run: the pool recovers, nothing is audited twice or lost', async () => {
  const outcomes = new Map<number, 'ok' | 'error'>()
  let next = 0
  let stop = false
  const worker = async () => {
    while (!stop) {
      const id = next++
      try {
        await pool.query(`INSERT INTO events VALUES (${id})`)
        outcomes.set(id, 'ok')
      } catch (error) {
        expect(error).toBeInstanceOf(Error)
        outcomes.set(id, 'error')
        await new Promise((r) => setTimeout(r, 20))
      }
    }
  }
  const workers = Array.from({ length: 4 }, worker)

  const until = async (n: number) => {
    while (outcomes.size < n) await new Promise((r) => setTimeout(r, 10))
  }
  await until(200)
  cluster.crash()
  const failedBefore = [...outcomes.values()].filter((o) => o === 'error').length
  // Keep issuing commands while it is down: they fail, they are audited.
  while ([...outcomes.values()].filter((o) => o === 'error').length < failedBefore + 8)
    await new Promise((r) => setTimeout(r, 10))
  cluster.start()
  // Recovery: new commands succeed again without touching the pool.
  const mark = next
  for (;;) {
    const recovered = [...outcomes.entries()].filter(([id, o]) => id >= mark && o === 'ok').length
    if (recovered >= 200) break
    await new Promise((r) => setTimeout(r, 10))
  }
  stop = true
  await Promise.all(workers)
  await warden.close()

  const errors = [...outcomes.values()].filter((o) => o === 'error').length
  expect(errors).toBeGreaterThanOrEqual(8)

  // One record per command; `ok` records match rows; the chain verifies.
  expect(await verifyChain(file)).toMatchObject({ ok: true })
  const records: AuditRecord[] = []
  for await (const r of readAudit(file)) if (r.type === 'command') records.push(r)
  const byId = new Map<number, AuditRecord[]>()
  for (const r of records) {
    const id = Number(/VALUES \((\d+)\)/.exec(r.command ?? '')?.[1])
    byId.set(id, [...(byId.get(id) ?? []), r])
  }
  expect(byId.size).toBe(outcomes.size)
  for (const [id, outcome] of outcomes) {
    const rs = byId.get(id) ?? []
    expect(rs.length, `records for command ${id}`).toBe(1)
    expect(rs[0].outcome?.status).toBe(outcome)
  }
  const admin = new pg.Client(cluster.config)
  await admin.connect()
  const rows = new Set((await admin.query<{ id: number }>('SELECT id FROM events')).rows.map((r) => r.id))
  await admin.end()
  for (const [id, outcome] of outcomes)
    if (outcome === 'ok') expect(rows.has(id), `row ${id} audited ok`).toBe(true)
  for (const id of rows) expect(outcomes.has(id), `row ${id} was issued`).toBe(true)
})
