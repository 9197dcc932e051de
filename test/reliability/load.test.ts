// Load: 50,000 guarded commands at concurrency 32 through the full pipeline (real describer facts,
// a policy with allow/deny/mask rules, hash-chained jsonl audit), then a real-PostgreSQL slice.
// Every command must have exactly one record, the chain must verify, and the heap must stay flat
// (heapUsed after GC at checkpoints, with a generous bound: a leak check, not a timing threshold).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type AuditRecord,
  type Command,
  createWarden,
  jsonlSink,
  readAudit,
  verifyChain,
  WardenError,
} from '@warden/core'
import { stubBroker } from '@warden/core/testing'
import { describePostgres, loadPostgresParser, Pool } from '@warden/drivers/pg'
import { compilePolicy, type SqlFacts } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { heapAfterGc, memoryAfterGc } from './helpers.js'

const POLICY = compilePolicy(`
defaults: { effect: deny }
rules:
  - name: unparsed
    when: '!sql.parsed'
    effect: deny
  - name: destructive
    when: 'sql.unbounded || sql.types.exists(t, t in ["DROP", "TRUNCATE"])'
    effect: deny
    reason: destructive statements are blocked
  - name: reads
    when: '!sql.write'
    effect: allow
  - name: scoped-writes
    when: 'sql.write && !sql.unbounded'
    effect: allow
masks:
  - name: pii
    columns: ["email"]
    strategy: redact
`)

const dir = mkdtempSync(join(tmpdir(), 'warden-rel-load-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
beforeAll(() => loadPostgresParser())

async function* commandRecords(file: string): AsyncGenerator<AuditRecord> {
  // Each command joined with its outcome record (stored before its result was released).
  for await (const record of readAudit(file)) if (record.type === 'command') yield record
}

// Three cached statement texts for the allowed commands (each run reports its index as its row
// count, so each record names its command); denied commands have their own text.
const READ = 'SELECT id, email FROM customers WHERE id = $1'
const WRITE = 'UPDATE orders SET seen = true WHERE id = $1'
const facts = new Map<string, SqlFacts>()
function sqlCommand(text: string): Command {
  let sql = facts.get(text)
  if (sql === undefined) {
    sql = describePostgres(text) as SqlFacts
    if (!text.startsWith('DELETE')) facts.set(text, sql)
  }
  return { resource: { kind: 'postgres', name: 'orders' }, action: 'sql.query', text, sql }
}

/** Command i: mostly reads (masked), some scoped writes, some denied, some failing at run time. */
function commandFor(i: number): { command: Command; kind: 'ok' | 'denied' | 'error' } {
  const kind = i % 17 === 0 ? 'denied' : i % 13 === 0 ? 'error' : 'ok'
  const text = kind === 'denied' ? `DELETE FROM orders /* ${i} */` : i % 3 === 0 ? WRITE : READ
  return { command: sqlCommand(text), kind }
}

describe('load', () => {
  it('50,000 commands at concurrency 32: one record each, chain verifies, heap flat', async () => {
    const file = join(dir, 'load.jsonl')
    const warden = createWarden({ policy: POLICY, audit: jsonlSink(file, { fsync: 'batch' }) })
    const session = await warden.session({ principal: { id: 'svc-load', type: 'service' } })
    const N = 50_000
    const CHECKPOINT = 10_000
    const heap: number[] = []
    const offHeap: number[] = []
    const counts = { ok: 0, denied: 0, error: 0 }
    let next = 0
    let done = 0
    let paused: Promise<void> | undefined
    const worker = async () => {
      for (;;) {
        if (paused) await paused
        const i = next++
        if (i >= N) return
        const { command, kind } = commandFor(i)
        try {
          await session.execute(command, (ctx) => {
            if (kind === 'error') throw new Error(`statement ${i} failed`)
            // The masked path: a one-row result through the decision's mask plan.
            if (ctx.masker)
              ctx.masker.plan([{ name: 'id' }, { name: 'email' }]).applyArray([i, `user${i}@example.com`])
            ctx.rows(i)
            return i
          })
          counts.ok++
        } catch (e) {
          if (e instanceof WardenError && e.code === 'ERR_WARDEN_DENIED') counts.denied++
          else if (e instanceof Error && e.message === `statement ${i} failed`) counts.error++
          else throw e
        }
        if (++done % CHECKPOINT === 0) {
          // Quiesce the workers, then measure the heap after GC.
          let resume!: () => void
          paused = new Promise((r) => {
            resume = r
          })
          await new Promise((r) => setTimeout(r, 20))
          const m = memoryAfterGc()
          heap.push(m.heapUsed)
          offHeap.push(m.external)
          paused = undefined
          resume()
        }
      }
    }
    await Promise.all(Array.from({ length: 32 }, worker))
    await warden.close()

    expect(counts.ok + counts.denied + counts.error).toBe(N)
    expect(counts.denied).toBe(Math.floor((N - 1) / 17) + 1)

    const chain = await verifyChain(file)
    expect(chain).toMatchObject({ ok: true })
    const seen = new Uint8Array(N)
    const statuses = { ok: 0, denied: 0, error: 0 }
    for await (const r of commandRecords(file)) {
      const status = r.outcome?.status as 'ok' | 'denied' | 'error'
      statuses[status]++
      const id =
        status === 'ok'
          ? (r.outcome?.rows as number)
          : Number(/(\d+)/.exec(status === 'denied' ? (r.command ?? '') : String(r.outcome?.error))?.[1])
      seen[id]++
      if (status === 'ok' && r.command === READ)
        expect(r.masked).toEqual([{ column: 'email', strategy: 'redact', count: 1 }])
    }
    expect(seen.every((n) => n === 1)).toBe(true)
    expect(statuses).toEqual(counts)

    // Heap after GC at 10k..50k commands: no per-command growth. 16 MB over 40,000 commands would be
    // a leak of ~400 bytes per command; the bound is loose so allocator noise never trips it.
    expect(heap.length).toBe(5)
    const growth = Math.max(...heap.slice(1)) - heap[0]
    expect(
      growth,
      `heap after GC at checkpoints: ${heap.map((h) => (h / 2 ** 20).toFixed(1)).join(', ')} MB`,
    ).toBeLessThan(16 * 2 ** 20)
    // Off the heap too: Buffers (audit lines, sha256 input) outside the JS heap. RSS is not asserted:
    // it follows the allocator, not the program (one CI run saw it fall 6 MB, then jump 20 MB, between
    // checkpoints while heap and external stayed flat).
    const mb = (xs: number[]) => xs.map((x) => (x / 2 ** 20).toFixed(1)).join(', ')
    expect(Math.max(...offHeap.slice(1)) - offHeap[0], `external: ${mb(offHeap)} MB`).toBeLessThan(
      16 * 2 ** 20,
    )
  }, 180_000)

  it('a real-PostgreSQL slice: 2,000 queries at concurrency 32 through a guarded Pool', async () => {
    const file = join(dir, 'pg.jsonl')
    const warden = createWarden({
      policy: POLICY,
      audit: jsonlSink(file, { fsync: 'batch' }),
      broker: stubBroker({ username: 'postgres' }),
    })
    const session = await warden.session({ principal: { id: 'svc-load', type: 'service' } })
    const pool = new Pool(session, {
      host: '127.0.0.1',
      port: 5432,
      database: 'postgres',
      resource: 'orders',
      max: 8,
    })
    const N = 2_000
    let next = 0
    const heap: number[] = []
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (let i = next++; i < N; i = next++) {
          const r = await pool.query(`SELECT ${i}::int AS id, 'u${i}@example.com' AS email`)
          expect(r.rows).toEqual([{ id: i, email: '[redacted]' }])
          if (i % 1000 === 999) heap.push(heapAfterGc())
        }
      }),
    )
    await pool.end()
    await warden.close()
    expect(await verifyChain(file)).toMatchObject({ ok: true })
    const seen = new Uint8Array(N)
    for await (const r of commandRecords(file)) {
      expect(r.outcome).toMatchObject({ status: 'ok', rows: 1 })
      seen[Number(/SELECT (\d+)/.exec(r.command ?? '')?.[1])]++
    }
    expect(seen.every((n) => n === 1)).toBe(true)
    expect(Math.max(...heap) - Math.min(...heap)).toBeLessThan(16 * 2 ** 20)
  }, 120_000)
})
