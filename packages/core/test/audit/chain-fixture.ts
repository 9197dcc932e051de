// Builds audit logs for verification tests with core's own sealing (sealRecord): the lines are
// exactly what a sink stores.
import { writeFileSync } from 'node:fs'
import { type Checkpoint, type CheckpointStore, createCheckpointer } from '@warden/core'
import { GENESIS, sealRecord } from '../../src/internal/audit-chain.js'

export interface Sealed {
  readonly lines: string[]
  readonly hashes: string[]
}

export function commandRecord(seq: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    id: `c${seq}`,
    time: '2026-01-01T00:00:00.000Z',
    session: 's1',
    type: 'command',
    action: 'sql.query',
    command: `SELECT ${seq}`,
    principal: { id: 'svc-reports', type: 'service', groups: [] },
    resource: { kind: 'postgres', name: 'orders' },
    decision: { effect: 'allow', rule: 'reads', revision: 'r1' },
    ...extra,
  }
}

/** Seals `records` into a chain continuing after `prev` (seq numbers follow on). */
export function seal(
  records: readonly Record<string, unknown>[],
  after: { seq: number; hash: string } = { seq: 0, hash: GENESIS },
): Sealed {
  const lines: string[] = []
  const hashes: string[] = []
  let prev = after.hash
  let seq = after.seq
  for (const r of records) {
    const { hash, line } = sealRecord({ ...r, seq: ++seq, prev })
    lines.push(line)
    hashes.push(hash)
    prev = hash
  }
  return { lines, hashes }
}

export function commands(n: number, after?: { seq: number; hash: string }): Sealed {
  const from = (after?.seq ?? 0) + 1
  return seal(
    Array.from({ length: n }, (_, i) => commandRecord(from + i)),
    after,
  )
}

export function writeLines(path: string, lines: readonly string[]): string {
  writeFileSync(path, lines.length === 0 ? '' : `${lines.join('\n')}\n`)
  return path
}

/** The checkpoints a writer with `key` emits for `hashes` (every `every` records, then close). */
export async function checkpointsFor(
  key: string,
  hashes: readonly string[],
  options: {
    every?: number
    close?: boolean
    from?: number
    open?: { seq: number; hash: string; log: string }
    /** Store them here instead of returning them. */
    store?: CheckpointStore
  } = {},
): Promise<Checkpoint[]> {
  const out: Checkpoint[] = []
  const cp = createCheckpointer({
    key,
    store: options.store ?? { append: async (c) => void out.push(c) },
    every: options.every ?? 10,
    intervalMs: 3_600_000,
  })
  if (options.open !== undefined) await cp.opened(options.open.seq, options.open.hash, options.open.log)
  const from = options.from ?? 1
  for (let i = 0; i < hashes.length; i++) {
    cp.written(from + i, hashes[i])
    await cp.settled()
  }
  if (options.close ?? true) await cp.close(from + hashes.length - 1, hashes[hashes.length - 1])
  return out
}
