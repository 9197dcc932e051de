import { readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

// Rotated segments of an audit log are `<path>.000001`, `<path>.000002`, …; the live one is `<path>`.
const DIGITS = 6

/** The segments of the log at `path`, oldest first, the live file last (whether it exists or not). */
export function auditSegments(path: string): string[] {
  return [...archived(path).map((n) => segmentPath(path, n)), path]
}

/** The numbers of the archived segments, ascending. */
export function archived(path: string): number[] {
  const dir = dirname(path)
  const prefix = `${basename(path)}.`
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const out: number[] = []
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const rest = name.slice(prefix.length)
    if (rest.length >= DIGITS && /^[0-9]+$/.test(rest)) out.push(Number(rest))
  }
  return out.sort((a, b) => a - b)
}

export function segmentPath(path: string, n: number): string {
  return join(dirname(path), `${basename(path)}.${String(n).padStart(DIGITS, '0')}`)
}
