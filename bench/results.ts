// Shared by every benchmark: machine facts and section-wise rewriting of bench/RESULTS.md,
// so each suite owns one section (between markers) and can be rerun alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

const RESULTS = fileURLToPath(new URL('./RESULTS.md', import.meta.url))

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu'
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`
}

/** Replaces (or appends) the section `name` of bench/RESULTS.md with `markdown`. */
export function writeSection(name: string, markdown: string): void {
  const start = `<!-- bench:${name}:start -->`
  const end = `<!-- bench:${name}:end -->`
  let text = existsSync(RESULTS)
    ? readFileSync(RESULTS, 'utf8')
    : '# Benchmark results\n\nWritten by `npm run bench`; each section by its own suite.\n'
  const block = `${start}\n${markdown.trim()}\n\n_Measured ${new Date().toISOString()} on ${machine()}._\n${end}`
  const i = text.indexOf(start)
  const j = text.indexOf(end)
  text =
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n${block}\n`
  writeFileSync(RESULTS, text)
}

/** Median and percentiles of a sample in the sample's unit. */
export function stats(samples: number[]): { median: number; p99: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN
  return { median: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) }
}
