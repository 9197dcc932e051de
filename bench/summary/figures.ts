// Machine-readable results: each suite calls writeFigures(suite, {...}) once at the end, writing
// bench/out/<suite>.json (git-ignored); bench/run.ts reads them all and writes the summary table at
// the top of bench/RESULTS.md.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const OUT = fileURLToPath(new URL('../out/', import.meta.url))

/** One way of talking to a server: latency per operation (µs) and, when measured, throughput (ops/s). */
export interface PathFigures {
  readonly medianUs: number
  readonly p99Us?: number
  readonly opsPerSec?: number
}

/** A driver measured side by side in one run: the raw client, the guarded client, the raw client through a proxy hop. */
export interface DriverFigures {
  readonly driver: string
  /** What was measured, e.g. "SELECT 1 row, c=1". */
  readonly workload?: string
  readonly raw: PathFigures
  readonly guarded?: PathFigures
  readonly proxy?: PathFigures
  /** Guarded with masking on, when the suite measured it. */
  readonly guardedMasked?: PathFigures
}

/** A single figure, e.g. `decide() 20 rules` = 2.9 µs, or `audit jsonl batch` = 6,000 records/s. */
export interface Metric {
  /** A stable key the summary looks for, e.g. `decide.20rules.median`, `describe.pg.cached`. */
  readonly key: string
  readonly label: string
  readonly value: number
  readonly unit: 'µs' | 'cells/s' | 'records/s' | 'ops/s' | 'MB' | 'ratio'
}

export interface SuiteFigures {
  readonly drivers?: readonly DriverFigures[]
  readonly metrics?: readonly Metric[]
}

export interface StoredFigures extends SuiteFigures {
  readonly suite: string
  readonly measuredAt: string
}

export function writeFigures(suite: string, figures: SuiteFigures): void {
  mkdirSync(OUT, { recursive: true })
  const stored: StoredFigures = { suite, measuredAt: new Date().toISOString(), ...figures }
  writeFileSync(`${OUT}${suite}.json`, `${JSON.stringify(stored, null, 2)}\n`)
}

export function readFigures(): StoredFigures[] {
  let names: string[]
  try {
    names = readdirSync(OUT).filter((n) => n.endsWith('.json'))
  } catch {
    return []
  }
  return names.sort().map((n) => JSON.parse(readFileSync(`${OUT}${n}`, 'utf8')) as StoredFigures)
}
