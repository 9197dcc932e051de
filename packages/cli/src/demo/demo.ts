// `warden demo` / `npm run demo`: a service account and an AI agent work against a database
// through a guarded pg pool. Shows masking, two blocked statements, a write held for a human,
// then the audit timeline and its verified hash chain.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  type Approver,
  autoApprove,
  autoDeny,
  consoleApprover,
  createWarden,
  jsonlSink,
  type Session,
  staticBroker,
  verifyChain,
  WardenError,
} from '@warden/core'
import { Pool } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import { buildTimelines, formatTimeline } from '../commands/audit-replay.js'
import { createStyle } from '../internal/io.js'
import { DEMO_POLICY } from './demo-policy.js'
import { startEmbeddedPostgres } from './embedded-postgres.js'
import { DEFAULT_SCHEMA, sampleSql } from './sample-data.js'

const HELP = `warden demo [options]

Runs a scripted service account and a scripted AI agent through a guarded pg pool.

Options:
  --database-url <url>   use this PostgreSQL server instead of the embedded one
                         (creates and drops the schema --schema names)
  --schema <name>        schema for the sample tables (default ${DEFAULT_SCHEMA})
  --approve <mode>       who approves held writes: console (ask on this terminal),
                         auto (approve), deny (reject). Default: console on a TTY, else auto.
  --audit <file>         where the audit log goes (default: a new temp file)
  -h, --help             this text
`

type ApproveMode = 'console' | 'auto' | 'deny'

export async function runDemo(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>
  try {
    args = parse(argv)
  } catch (error) {
    process.stderr.write(`warden demo: ${(error as Error).message}\n\n${HELP}`)
    return 2
  }
  if (args.help) {
    process.stdout.write(HELP)
    return 0
  }
  const style = createStyle(process.stdout, process.env)
  const say = (text = '') => process.stdout.write(`${text}\n`)
  const step = (title: string) => say(`\n${style.bold(style.cyan(`▸ ${title}`))}`)

  const mode: ApproveMode = args.approve ?? (process.stdin.isTTY ? 'console' : 'auto')
  const schema = args.schema
  const auditPath = args.audit ?? join(mkdtempSync(join(tmpdir(), 'warden-demo-')), 'audit.jsonl')

  // 1. The database: embedded unless a URL is given. The URL's user and password go to the
  //    broker, never into the pool's config.
  let target: { host: string; port: number; database: string; user: string; password: string }
  let stopEmbedded: (() => Promise<void>) | undefined
  if (args.databaseUrl) {
    const url = new URL(args.databaseUrl)
    target = {
      host: url.hostname,
      port: Number(url.port || 5432),
      database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
      user: decodeURIComponent(url.username) || 'postgres',
      password: decodeURIComponent(url.password),
    }
    say(`Using PostgreSQL at ${target.host}:${target.port}/${target.database}`)
  } else {
    say('Starting an embedded PostgreSQL (PGlite over the wire protocol)…')
    const embedded = await startEmbeddedPostgres()
    stopEmbedded = () => embedded.stop()
    target = {
      host: embedded.host,
      port: embedded.port,
      database: 'postgres',
      user: 'postgres',
      password: 'postgres',
    }
  }

  const approvals: Approver =
    mode === 'console'
      ? consoleApprover()
      : mode === 'auto'
        ? autoApprove({ by: 'demo --approve auto' })
        : autoDeny()
  const warden = createWarden({
    policy: compilePolicy(DEMO_POLICY, { source: 'demo-policy.yaml' }),
    broker: staticBroker({
      credentials: {
        'postgres:shop': { type: 'password', username: target.user, password: target.password },
      },
    }),
    audit: jsonlSink(auditPath),
    approvals,
  })
  const pool = new Pool(warden, {
    resource: 'shop',
    host: target.host,
    port: target.port,
    database: target.database,
    max: 2,
    options: `-c search_path=${schema}`,
  })

  let failures = 0
  const attempt = async (session: Session, label: string, text: string, values?: unknown[]) => {
    say(
      `\n${style.bold(session.principal.id)} ${style.dim('runs')} ${text}${values ? style.dim(`  ${JSON.stringify(values)}`) : ''}`,
    )
    say(style.dim(`  (${label})`))
    try {
      const result = await session.run(() => pool.query(text, values))
      if (result.rows.length > 0) printRows(result.rows as Record<string, unknown>[], say)
      else
        say(`  ${style.green('ok')}: ${result.rowCount ?? 0} row(s) ${result.command?.toLowerCase() ?? ''}`)
    } catch (error) {
      if (error instanceof WardenError) say(`  ${style.red('refused')} [${error.code}] ${error.message}`)
      else {
        failures++
        say(`  ${style.red('failed')}: ${(error as Error).message}`)
      }
    }
  }

  try {
    step('Loading sample customers and orders (as the schema owner, outside Warden)')
    await loadSampleData(target, schema)
    say(`  4 customers, 4 orders in schema ${schema}`)

    step('A reporting service account (group: readers)')
    const service = await warden.session({
      principal: { id: 'svc-reports', type: 'service', groups: ['readers'] },
    })
    await attempt(
      service,
      'allowed, PII masked',
      'SELECT id, name, email, ssn, phone FROM customers ORDER BY id',
    )
    await attempt(
      service,
      'allowed by policy as a read, but the function deletes: the server refuses it',
      'SELECT order_report()',
    )
    await attempt(service, 'blocked: DROP', 'DROP TABLE orders')
    await attempt(service, 'blocked: DELETE without WHERE', 'DELETE FROM orders')

    step(`A support agent (an AI agent's identity); held writes are approved: ${mode}`)
    const agent = await warden.session({
      principal: { id: 'agent-support', type: 'agent', groups: ['support'] },
    })
    await attempt(
      agent,
      'allowed, the joined email is masked by its table origin',
      'SELECT o.id, o.status, c.email AS contact FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status = $1',
      ['disputed'],
    )
    await attempt(agent, 'held for a human', "UPDATE orders SET status = 'refunded' WHERE id = $1", [104])
    await attempt(
      agent,
      'blocked: the agent may only write orders',
      "UPDATE customers SET email = 'x@evil.test' WHERE id = 1",
    )
    await service.close()
    await agent.close()
  } finally {
    await pool.end().catch(() => {})
    await warden.close()
  }

  step(`Audit timeline (${auditPath})`)
  for (const session of await buildTimelines(auditPath, () => {}))
    say(`${formatTimeline(session, style).trimEnd()}\n`)
  const chain = await verifyChain(auditPath)
  if (chain.ok)
    say(`${style.green('✓')} hash chain verified: ${chain.count} records, head ${chain.head?.hash ?? ''}`)
  else {
    failures++
    say(`${style.red('✗')} hash chain broken at seq ${chain.seq}: ${chain.reason}`)
  }
  try {
    if (args.databaseUrl) await dropSampleData(target, schema)
  } finally {
    await stopEmbedded?.()
  }
  say(`\nReplay it any time: warden audit replay ${auditPath}`)
  return failures === 0 ? 0 : 1
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      'database-url': { type: 'string' },
      approve: { type: 'string' },
      audit: { type: 'string' },
      schema: { type: 'string', default: DEFAULT_SCHEMA },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  const approve = values.approve
  if (approve !== undefined && approve !== 'console' && approve !== 'auto' && approve !== 'deny') {
    throw new Error(`--approve must be console, auto or deny (got "${approve}")`)
  }
  const schema = values.schema ?? DEFAULT_SCHEMA
  // The name is interpolated into DDL: accept plain identifiers only.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new Error(`--schema must be a lower-case SQL identifier (got "${schema}")`)
  return {
    schema,
    databaseUrl: values['database-url'],
    approve: approve as ApproveMode | undefined,
    audit: values.audit,
    help: values.help === true,
  }
}

function printRows(rows: Record<string, unknown>[], say: (s: string) => void) {
  const columns = Object.keys(rows[0] ?? {})
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? 'NULL')))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)))
  const line = (values: string[]) => `  ${values.map((v, i) => v.padEnd(widths[i]!)).join('  ')}`
  say(line(columns))
  say(line(widths.map((w) => '─'.repeat(w))))
  for (const row of cells) say(line(row))
}

// Sample data is loaded with the raw driver: it is the demo's setup, not a guarded workload.
async function withRawClient(
  target: { host: string; port: number; database: string; user: string; password: string },
  fn: (client: import('pg').Client) => Promise<void>,
) {
  const { default: pg } = await import('pg')
  const client = new pg.Client(target)
  await client.connect()
  try {
    await fn(client)
  } finally {
    await client.end()
  }
}

function loadSampleData(target: Parameters<typeof withRawClient>[0], schema: string) {
  return withRawClient(target, async (client) => {
    await client.query(sampleSql(schema))
  })
}

function dropSampleData(target: Parameters<typeof withRawClient>[0], schema: string) {
  return withRawClient(target, async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  })
}
