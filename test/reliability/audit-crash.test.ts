// The record comes first, measured the way it fails: a child process writes rows through a guarded
// pg Pool and is killed (SIGKILL, SIGTERM) at random points, or its log's file system fills up.
// After each: every row in the table has its command record, every result the caller saw has its
// outcome record, the log verifies, and the next process continues the same chain.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { verifyChain } from '@warden/core'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'

const script = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'warden-crash-'))
const table = `audit_crash_${process.pid}`
const db = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' })

beforeAll(async () => {
  await db.connect()
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`)
})
// Each test compares its own log with the table.
beforeEach(async () => {
  await db.query(`TRUNCATE ${table}`)
})
afterAll(async () => {
  await db.query(`DROP TABLE IF EXISTS ${table}`)
  await db.end()
  rmSync(dir, { recursive: true, force: true })
})

interface Run {
  readonly acked: Set<number>
  readonly failed: Map<number, string>
  readonly signal: NodeJS.Signals | null
  readonly last: number
}

/** Runs the writer; once it has `after` acks, sends `signal` (or lets it stop by itself). */
async function run(opts: {
  file: string
  first: number
  fsync: 'always' | 'batch' | 'none'
  signal?: NodeJS.Signals
  after: number
}): Promise<Run> {
  const args = [
    '--conditions=warden-source',
    '--import',
    'tsx',
    script,
    opts.file,
    table,
    String(opts.first),
    opts.fsync,
  ]
  if (opts.signal === undefined) args.push(String(opts.after))
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  const acked = new Set<number>()
  const failed = new Map<number, string>()
  let last = opts.first
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  )
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    const [what, id, code] = line.split(' ')
    if (what === 'ack') acked.add(Number(id))
    if (what === 'fail') failed.set(Number(id), code)
    if (id !== undefined) last = Math.max(last, Number(id))
    if (opts.signal !== undefined && acked.size === opts.after) child.kill(opts.signal)
  }
  const signal = await exited
  if (opts.signal !== undefined && signal !== opts.signal)
    throw new Error(`writer ended with ${signal} before it was killed: ${stderr}`)
  return { acked, failed, signal, last }
}

interface Trail {
  /** Row ids with a command record (stored before the INSERT was sent). */
  readonly intended: Set<number>
  /** Row ids whose command record has an `ok` outcome record. */
  readonly ok: Set<number>
  /** Row ids whose command has no outcome record (the process ended while it ran). */
  readonly unknown: Set<number>
  readonly types: string[]
}

function trail(file: string): Trail {
  const idOf = new Map<string, number>()
  const intended = new Set<number>()
  const ok = new Set<number>()
  const types: string[] = []
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue
    const r = JSON.parse(line)
    types.push(r.type)
    if (r.type === 'command') {
      const id = Number(/VALUES \((\d+)\)/.exec(r.command)?.[1])
      idOf.set(r.id, id)
      intended.add(id)
    } else if (r.type === 'outcome' && r.outcome.status === 'ok') ok.add(idOf.get(r.of) as number)
  }
  const unknown = new Set<number>()
  const ended = new Set<number>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue
    const r = JSON.parse(line)
    if (r.type === 'outcome') ended.add(idOf.get(r.of) as number)
  }
  for (const id of intended) if (!ended.has(id)) unknown.add(id)
  return { intended, ok, unknown, types }
}

async function committed(): Promise<Set<number>> {
  const r = await db.query<{ id: number }>(`SELECT id FROM ${table}`)
  return new Set(r.rows.map((row) => row.id))
}

function expectWriteAhead(rows: Set<number>, t: Trail, acked: Iterable<number>) {
  const unrecorded = [...rows].filter((id) => !t.intended.has(id))
  expect(unrecorded, 'rows committed without a command record').toEqual([])
  const released = [...acked].filter((id) => !t.ok.has(id))
  expect(released, 'results the caller saw without an outcome record').toEqual([])
}

const random = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1))

describe('audit write-ahead under crashes', () => {
  it.each(['always', 'batch', 'none'] as const)(
    'SIGKILL at random moments (fsync %s)',
    async (fsync) => {
      const file = join(dir, `kill-${fsync}.jsonl`)
      const acked = new Set<number>()
      let first = { always: 1, batch: 1_000_000, none: 2_000_000 }[fsync]
      const points: number[] = []
      for (let kill = 0; kill < 4; kill++) {
        const after = random(5, 120)
        points.push(after)
        const r = await run({ file, first, fsync, signal: 'SIGKILL', after })
        for (const id of r.acked) acked.add(id)
        first = r.last + 100
        const t = trail(file)
        expectWriteAhead(await committed(), t, acked)
        // The killed process's last commands may have no outcome; they are named, not lost.
        expect(await verifyChain(file), `killed after ${points.join(', ')} acks`).toMatchObject({ ok: true })
      }
      // The next process takes over the stale lock and continues the same chain.
      const r = await run({ file, first, fsync, after: 10 })
      expect(r.acked.size).toBeGreaterThanOrEqual(10)
      const t = trail(file)
      expectWriteAhead(await committed(), t, [...acked, ...r.acked])
      expect(await verifyChain(file)).toMatchObject({ ok: true, count: t.types.length })
      expect(t.types.filter((x) => x === 'session.open')).toHaveLength(5)
    },
    120_000,
  )

  it('SIGTERM: the queue is stored and the process ends as the signal says', async () => {
    const file = join(dir, 'term.jsonl')
    const acked = new Set<number>()
    let first = 3_000_000
    for (let i = 0; i < 3; i++) {
      const r = await run({ file, first, fsync: 'batch', signal: 'SIGTERM', after: random(5, 120) })
      expect(r.signal).toBe('SIGTERM')
      for (const id of r.acked) acked.add(id)
      first = r.last + 100
      expectWriteAhead(await committed(), trail(file), acked)
      expect(await verifyChain(file)).toMatchObject({ ok: true })
    }
  }, 60_000)

  it('a file system that fills up: refused before running, unrecorded outcomes say they ran, the chain continues', async () => {
    // A small tmpfs of our own (the suite runs as root, as CI does).
    const mnt = join(dir, 'small')
    mkdirSync(mnt)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', mnt])
    try {
      const file = join(mnt, 'audit.jsonl')
      const r = await run({ file, first: 4_000_000, fsync: 'always', after: 1_000_000 })
      const rows = await committed()
      const t = trail(file)
      expect(r.failed.size).toBeGreaterThan(0)
      expectWriteAhead(rows, t, r.acked)
      for (const [id, code] of r.failed) {
        expect(['ERR_WARDEN_AUDIT', 'ERR_WARDEN_RAN_UNRECORDED']).toContain(code)
        // refused before running: never reached PostgreSQL
        if (code === 'ERR_WARDEN_AUDIT') expect(rows.has(id), `row ${id} was refused but written`).toBe(false)
        // ran: the database has it, the log has its command record, and the caller was told it ran
        if (code === 'ERR_WARDEN_RAN_UNRECORDED') {
          expect(rows.has(id)).toBe(true)
          expect(t.intended.has(id)).toBe(true)
        }
      }
      // Nothing torn was left behind: the chain verifies as it is.
      expect(await verifyChain(file)).toMatchObject({ ok: true })
      // Space again: the next process continues the chain.
      execFileSync('mount', ['-o', 'remount,size=4m', mnt])
      const again = await run({ file, first: 5_000_000, fsync: 'always', after: 10 })
      expect(again.failed.size).toBe(0)
      expectWriteAhead(await committed(), trail(file), again.acked)
      expect(await verifyChain(file)).toMatchObject({ ok: true })
    } finally {
      execFileSync('umount', ['-l', mnt])
    }
  }, 60_000)
})
