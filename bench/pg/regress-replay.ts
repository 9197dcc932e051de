// Replays PostgreSQL's regression SQL (as vendored in pganalyze/libpg_query, test/sql/postgres_regress;
// not in this repository: pass its folder) through describePostgres, with the server's read-only
// transaction as the oracle. Not part of `npm run bench`; run by hand:
//   node --import tsx bench/pg/regress-replay.ts /path/to/postgres_regress
// Every statement runs once inside BEGIN READ ONLY (or a read-only savepoint), rolled back, to see
// whether PostgreSQL refuses it as a write (25006), then once for real so later statements find
// their objects. Statements that would act outside the scratch database (roles for all, databases,
// tablespaces, ALTER SYSTEM, signals, reloads, WAL, slots, sleeps) are skipped and counted.
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describePostgres, loadPostgresParser } from '@warden/drivers/pg'
import type { SqlFacts } from '@warden/policy'
import { scanSync } from 'libpg-query'
import pg from 'pg'

const HOST = process.env.PGHOST ?? '127.0.0.1'
const PORT = Number(process.env.PGPORT ?? 5432)
const dir = process.argv[2]
if (!dir) throw new Error('usage: regress-replay.ts <postgres_regress folder>')

const UNSAFE_TYPES =
  /^\s*(CREATE|DROP|ALTER)\s+(DATABASE|TABLESPACE|SUBSCRIPTION)\b|^\s*ALTER\s+SYSTEM\b|^\s*ALTER\s+(ROLE|USER|GROUP)\s+(ALL|CURRENT_USER|SESSION_USER|CURRENT_ROLE|"?postgres"?|PUBLIC)\b|^\s*(CHECKPOINT|LOAD)\b/i
/** Files about cluster-wide objects (the local server is shared). */
const SKIP_FILES = new Set(['rolenames.sql', 'database.sql', 'tablespace.sql', 'subscription.sql'])
const UNSAFE_FUNCTIONS =
  /^(pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_switch_wal|pg_create_restore_point|pg_promote|pg_sleep|pg_sleep_for|pg_sleep_until|pg_log_backend_memory_contexts|pg_stat_reset.*|pg_.*replication_slot.*|pg_replication_origin_.*|pg_logical_.*|pg_wal_replay_.*|dblink.*|lo_import|lo_export|pg_file_.*)$/

function statements(text: string): string[] {
  // psql meta-commands, and COPY ... FROM stdin data up to "\.".
  const lines = text.split('\n')
  const kept: string[] = []
  let inData = false
  for (const line of lines) {
    if (inData) {
      if (line.startsWith('\\.')) inData = false
      kept.push('')
      continue
    }
    if (line.startsWith('\\')) {
      kept.push('')
      continue
    }
    kept.push(line)
    if (/\bfrom\s+stdin\b.*;\s*$/i.test(line)) inData = true
  }
  const sql = kept.join('\n')
  let tokens: { start: number; end: number; text: string }[]
  try {
    tokens = scanSync(sql).tokens
  } catch {
    return sql
      .split(/;\s*\n/)
      .map((s) => s.trim())
      .filter((s) => s !== '')
  }
  const bytes = Buffer.from(sql, 'utf8')
  const out: string[] = []
  let start = 0
  for (const token of tokens) {
    if (token.text !== ';') continue
    const piece = bytes.subarray(start, token.end).toString('utf8').trim()
    if (piece.replace(/;$/, '').trim() !== '') out.push(piece)
    start = token.end
  }
  return out
}

type Client = pg.Client & { _txStatus?: string }

async function run(client: Client, text: string): Promise<string> {
  try {
    await client.query(text)
    return 'ok'
  } catch (e) {
    return String((e as { code?: string }).code ?? 'client')
  }
}

async function main(): Promise<void> {
  await loadPostgresParser()
  const database = `ro14_regress_${randomBytes(3).toString('hex')}`
  const admin = new pg.Client({ host: HOST, port: PORT, user: 'postgres', database: 'postgres' })
  await admin.connect()
  const roles = new Set(
    (await admin.query('SELECT rolname FROM pg_roles')).rows.map((r: { rolname: string }) => r.rolname),
  )
  await admin.query(`CREATE DATABASE ${database}`)
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql') && !SKIP_FILES.has(f))
    .sort((a, b) => (a === 'test_setup.sql' ? -1 : b === 'test_setup.sql' ? 1 : a.localeCompare(b)))
  const n = {
    statements: 0,
    skipped: 0,
    serverAccepted: 0,
    overDenied: 0,
    roRefused: 0,
    roRefusedDescribedRead: 0,
    roAcceptedWithEffects: 0,
  }
  const overDenied: string[] = []
  const missed: string[] = []
  const effects: Record<string, number> = {}
  try {
    for (const file of files) {
      const client: Client = new pg.Client({ host: HOST, port: PORT, user: 'postgres', database })
      client.on('error', () => {})
      client.on('notice', () => {})
      await client.connect()
      await client.query("SET statement_timeout = '5s'; SET lock_timeout = '2s'")
      for (const text of statements(readFileSync(join(dir, file), 'utf8'))) {
        n.statements++
        const facts = (await describePostgres(text)) as SqlFacts
        if (
          UNSAFE_TYPES.test(text) ||
          facts.functions.some((f) => UNSAFE_FUNCTIONS.test(f.split('.').pop() ?? ''))
        ) {
          n.skipped++
          continue
        }
        const control =
          facts.effects.includes('transaction_control') ||
          /^\s*(BEGIN|COMMIT|ROLLBACK|END|START|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b/i.test(text)
        const status = client._txStatus
        if (!control && (status === 'I' || status === 'T')) {
          const nested = status === 'T'
          await run(
            client,
            nested ? 'SAVEPOINT ro14; SET LOCAL transaction_read_only = on' : 'BEGIN READ ONLY',
          )
          const code = await run(client, text)
          await run(client, nested ? 'ROLLBACK TO SAVEPOINT ro14; RELEASE SAVEPOINT ro14' : 'ROLLBACK')
          if (code === '25006') {
            n.roRefused++
            if (facts.parsed && !facts.write) {
              n.roRefusedDescribedRead++
              missed.push(`${file}: ${text.slice(0, 160)}`)
            }
          } else if (code === 'ok' && facts.effects.length > 0) {
            n.roAcceptedWithEffects++
            for (const e of facts.effects) effects[e] = (effects[e] ?? 0) + 1
          }
        }
        const real = await run(client, text)
        if (real === 'ok') {
          n.serverAccepted++
          if (!facts.parsed) {
            n.overDenied++
            overDenied.push(`${file}: ${facts.error} :: ${text.slice(0, 120)}`)
          }
        }
      }
      await client.end().catch(() => {})
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
    for (const r of (await admin.query('SELECT rolname FROM pg_roles')).rows as { rolname: string }[]) {
      // Only the suite's own roles (regress_*): other processes may create roles meanwhile.
      if (!roles.has(r.rolname) && r.rolname.startsWith('regress'))
        await admin.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => {})
    }
    await admin.end()
  }
  console.log(JSON.stringify({ ...n, effects }, null, 2))
  console.log('\nover-denied (server accepts, parsed: false):')
  for (const line of overDenied.slice(0, 40)) console.log(`  ${line}`)
  console.log('\nrefused by the server in a read-only transaction but described as a read:')
  for (const line of missed) console.log(`  ${line}`)
}

await main()
