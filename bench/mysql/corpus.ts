// MariaDB's own test suite as a corpus for describeMysql (issue 14). Not part of `npm run bench` or
// the test suite, and the corpus is not committed: get the suite of the server's version (here
// MariaDB 10.11, Debian 12) with
//   cd /tmp && apt-get download mariadb-test-data && dpkg-deb -x mariadb-test-data_*.deb /tmp/mariadb-test
// then, without a server (statements mysqltest does not expect to fail):
//   npx tsx --conditions=warden-source bench/mysql/corpus.ts /tmp/mariadb-test/usr/share/mysql/mysql-test/main
// Reports how many statements come back `parsed: false` (over-denial) and the most common reasons.
// With the server as the oracle (MYSQL_ORACLE_PORT: a private, throwaway MariaDB, never a shared
// one: the suite runs SET GLOBAL, FLUSH, KILL and changes users; bench/mysql/oracle-server.sh starts
// one on 127.0.0.1:3307), each file runs there in a scratch database of its own (warden_mtr_N), and
// every statement runs first under SET SESSION TRANSACTION READ ONLY: accepted there, it is a read
// by the server's account, and `parsed: false` for it is over-denial; refused with errno 1792 while
// the describer called it a read, it is a write the describer missed. Statements the server rejects
// either way are left out. `--record verdicts.jsonl` keeps the server's verdicts; `--verdicts
// verdicts.jsonl` replays them (no server, seconds) for another version of the describer.
//   bench/mysql/oracle-server.sh
//   MYSQL_ORACLE_PORT=3307 npx tsx --conditions=warden-source bench/mysql/corpus.ts <main> --record /tmp/v.jsonl
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describeMysql } from '@warden/drivers/mysql'
import type { Oracle } from './mariadb-oracle.js'
import { extractStatements } from './mysqltest-extract.js'

const dir = process.argv[2]
if (dir === undefined) {
  console.error('usage: corpus.ts <mysql-test/main directory> [--show N] [--filter REGEX]')
  process.exit(2)
}
const showN = Number(argValue('--show') ?? 25)
const filter = argValue('--filter')
const oraclePort = process.env.MYSQL_ORACLE_PORT ? Number(process.env.MYSQL_ORACLE_PORT) : undefined
// --baseline NAME=<describe.ts of an older checkout> (repeatable; e.g. from
// `git archive <rev> packages/drivers/src packages/policy/src | tar -x -C /tmp/base-NAME` with
// /tmp/base-NAME/node_modules a link to this checkout's): the same statements through it too, for
// before/after figures from one oracle run.
type Describe = (
  text: string,
) => Promise<{ parsed: boolean; write: boolean }> | { parsed: boolean; write: boolean }
interface Baseline {
  readonly name: string
  readonly describe: Describe
  unparsed: number
  allUnparsed: number
  misses: number
}
const baselines: Baseline[] = []
for (const [i, a] of process.argv.entries()) {
  if (a !== '--baseline') continue
  const spec = process.argv[i + 1] ?? ''
  const eq = spec.indexOf('=')
  const name = eq > 0 ? spec.slice(0, eq) : `baseline${baselines.length + 1}`
  const path = eq > 0 ? spec.slice(eq + 1) : spec
  const mod = (await import(path)) as { describeMysql: Describe }
  baselines.push({ name, describe: mod.describeMysql, unparsed: 0, allUnparsed: 0, misses: 0 })
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test'))
  .sort()
let total = 0
let unparsed = 0
const reasons = new Map<string, { n: number; example: string }>()
const misses: { file: string; text: string }[] = []
let accepted = 0
let acceptedUnparsed = 0
let all = 0
let allUnparsed = 0

// --record FILE: with the oracle, write each statement's verdict (one JSON line); --verdicts FILE:
// replay recorded verdicts instead of a server (the same figures for another describer in seconds).
const recordPath = argValue('--record')
const verdictsPath = argValue('--verdicts')
interface Verdict {
  readonly file: string
  readonly text: string
  readonly ok: boolean
  readonly read: boolean
  readonly refusedReadOnly: boolean
}
const recorded: Verdict[] | undefined =
  verdictsPath === undefined
    ? undefined
    : readFileSync(verdictsPath, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Verdict)
const openedOracle =
  oraclePort === undefined ? undefined : await (await import('./mariadb-oracle.js')).openOracle(oraclePort)
const oracle: Pick<Oracle, 'run' | 'beginFile' | 'close'> | undefined =
  recorded !== undefined ? replayOracle(recorded) : openedOracle
if (recordPath !== undefined) writeFileSync(recordPath, '')

/** Recorded verdicts, in the order they were recorded (the same corpus and --filter). */
function replayOracle(verdicts: readonly Verdict[]): Pick<Oracle, 'run' | 'beginFile' | 'close'> {
  let next = 0
  return {
    async beginFile() {},
    async run(text, describedAsRead) {
      const v = verdicts[next++]
      if (v === undefined || v.text !== text) throw new Error('the verdicts are not of this corpus')
      return { ...v, readOnlyRefused: v.refusedReadOnly && describedAsRead }
    },
    async close() {},
  }
}

for (const [n, file] of files.entries()) {
  if (openedOracle !== undefined && n % 50 === 0) console.error(`${n}/${files.length} ${file}`)
  const statements = extractStatements(readFileSync(join(dir, file), 'latin1'))
  await oracle?.beginFile(file)
  for (const s of statements) {
    if (filter !== undefined && !new RegExp(filter, 'i').test(s.text)) continue
    const facts = await describeMysql(s.text)
    const bases = await Promise.all(baselines.map((b) => b.describe(s.text)))
    let serverAccepts = !s.expectError
    if (oracle !== undefined) {
      // The measure: statements the server runs in a read-only transaction (reads, by
      // the server's account), of which `parsed: false` is over-denial for a reader.
      const r = await oracle.run(s.text, facts.parsed && !facts.write)
      if (recordPath !== undefined)
        appendFileSync(
          recordPath,
          `${JSON.stringify({ file, text: s.text, ok: r.ok, read: r.read, refusedReadOnly: r.refusedReadOnly })}\n`,
        )
      serverAccepts = r.read
      if (r.ok) {
        all++
        if (!facts.parsed) allUnparsed++
        baselines.forEach((b, i) => {
          if (!bases[i]?.parsed) b.allUnparsed++
        })
      }
      if (r.readOnlyRefused) misses.push({ file, text: s.text })
      baselines.forEach((b, i) => {
        const f = bases[i]
        if (r.refusedReadOnly && f?.parsed && !f.write) b.misses++
      })
    }
    if (!serverAccepts) continue
    total++
    baselines.forEach((b, i) => {
      if (!bases[i]?.parsed) b.unparsed++
    })
    if (facts.parsed) continue
    unparsed++
    const key = reasonKey(s.text, facts.error)
    const entry = reasons.get(key)
    if (entry) entry.n++
    else reasons.set(key, { n: 1, example: s.text.slice(0, 160) })
  }
  accepted = total
  acceptedUnparsed = unparsed
}
await oracle?.close()

/** A reason bucket: the statement's first words and the describer's error kind. */
function reasonKey(text: string, error: string): string {
  const words = text
    .replace(/\s+/g, ' ')
    .trim()
    .split(' ')
    .slice(0, 2)
    .join(' ')
    .toUpperCase()
    .replace(/[^A-Z_ ]/g, '')
  return `${words} | ${error.replace(/ at line \d+, column \d+/, '').slice(0, 60)}`
}

console.log(`files: ${files.length}`)
console.log(
  `statements${oracle ? ' the server runs read-only' : ' (not expected to fail)'}: ${accepted}; parsed: false: ${acceptedUnparsed} (${((100 * acceptedUnparsed) / Math.max(accepted, 1)).toFixed(2)}%)`,
)
if (oracle !== undefined)
  console.log(
    `all statements the server accepts (reads and writes): ${all}; parsed: false: ${allUnparsed} (${((100 * allUnparsed) / Math.max(all, 1)).toFixed(2)}%)`,
  )
if (oracle !== undefined)
  console.log(
    `described as reads but refused by the server as writes (read-only, errno 1792): ${misses.length}`,
  )
for (const b of baselines)
  console.log(
    `baseline ${b.name}: parsed: false ${b.unparsed} of ${accepted} (${((100 * b.unparsed) / Math.max(accepted, 1)).toFixed(2)}%)` +
      (oracle === undefined
        ? ''
        : `; of all accepted ${b.allUnparsed} (${((100 * b.allUnparsed) / Math.max(all, 1)).toFixed(2)}%); reads refused as writes ${b.misses}`),
  )
console.log('\nmost common reasons for parsed: false:')
for (const [key, { n, example }] of [...reasons].sort((a, b) => b[1].n - a[1].n).slice(0, showN))
  console.log(`${String(n).padStart(6)}  ${key}\n        e.g. ${example.replace(/\s+/g, ' ')}`)
if (misses.length > 0) {
  console.log('\nreads the server refused as writes:')
  for (const m of misses.slice(0, showN))
    console.log(`  ${m.file}: ${m.text.replace(/\s+/g, ' ').slice(0, 160)}`)
}
