import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Command, createWarden, type ExecuteContext, jsonlSink, type Session } from '@warden/core'
import { autoApprove } from '@warden/core/testing'
import { describePostgres } from '@warden/drivers/pg'
import { loadPolicy } from '@warden/policy'

export const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url))

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `warden <args>` as a real subprocess (from source, through tsx), stdout/stderr piped. */
export function runWarden(
  args: readonly string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<CliResult> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env }
  for (const name of ['FORCE_COLOR', 'NO_COLOR']) if (!(name in env)) delete childEnv[name]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=warden-source', '--import', 'tsx', BIN, ...args], {
      cwd: REPO,
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

export function tempDir(name: string): {
  dir: string
  write(file: string, text: string): string
  remove(): void
} {
  const dir = mkdtempSync(join(tmpdir(), `warden-cli-${name}-`))
  return {
    dir,
    write(file, text) {
      const path = join(dir, file)
      writeFileSync(path, text)
      return path
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** The policy the audit fixtures are recorded under. */
export const RECORDED_POLICY = `
defaults: { effect: deny, reason: nothing allows this }
rules:
  - name: readers-select
    resources: ["postgres:*"]
    when: '"readers" in principal.groups && !sql.write'
    effect: allow
  - name: destructive-sql
    resources: ["postgres:*"]
    when: 'sql.unbounded'
    effect: deny
    reason: unbounded writes are blocked
  - name: agent-writes
    when: 'principal.type == "agent" && sql.write'
    effect: approve
    reason: agents need a human for writes
    approval: { approvers: [dba], timeout: 1m }
masks:
  - name: pii
    resources: ["postgres:*"]
    columns: ["email"]
    strategy: redact
`

export async function sqlCommand(text: string): Promise<Command> {
  return {
    resource: { kind: 'postgres', name: 'orders-prod' },
    action: 'sql.query',
    text,
    sql: await describePostgres(text),
  }
}

/** Two rows with an email column, masked through the pipeline's masker like a driver would. */
function customerRows(context: ExecuteContext): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [
    { id: 1, email: 'ann@example.com' },
    { id: 2, email: 'bob@example.com' },
  ]
  const plan = context.masker?.plan([
    { name: 'id', table: 'customers' },
    { name: 'email', table: 'customers' },
  ])
  for (const row of rows) plan?.applyObject(row)
  context.rows(rows.length)
  return rows
}

export interface RecordedLog {
  readonly reader: string
  readonly agent: string
}

/**
 * Writes a real hash-chained audit log through createWarden + jsonlSink: a reader selects
 * customers (2 emails masked), tries an unbounded DELETE (denied), and an agent's UPDATE is
 * approved by "alice" and runs.
 */
export async function recordAuditLog(file: string, policyFile: string): Promise<RecordedLog> {
  const warden = createWarden({
    policy: await loadPolicy(policyFile),
    audit: jsonlSink(file),
    approvals: autoApprove({ by: 'alice' }),
  })
  let reader: Session | undefined
  let agent: Session | undefined
  try {
    reader = await warden.session({ principal: { id: 'svc-reports', type: 'service', groups: ['readers'] } })
    await reader.execute(await sqlCommand('SELECT id, email FROM customers'), customerRows)
    await reader
      .execute(await sqlCommand('DELETE FROM orders'), () => 0)
      .catch((error: { code?: string }) => {
        if (error.code !== 'ERR_WARDEN_DENIED') throw error
      })
    agent = await warden.session({ principal: { id: 'agent-7', type: 'agent', groups: [] } })
    await agent.execute(await sqlCommand('UPDATE orders SET status = 2 WHERE id = 7'), (context) =>
      context.rows(1),
    )
    return { reader: reader.id, agent: agent.id }
  } finally {
    await warden.close()
  }
}

export const REDIS_URL = 'redis://127.0.0.1:6379'

/** Agents' SQL writes wait for a human from group "dba" (held in the shared approval store). */
export const APPROVAL_POLICY = `
defaults: { effect: deny }
rules:
  - name: agent-writes
    when: 'principal.type == "agent" && sql.write'
    effect: approve
    reason: agents need a human for writes
    approval: { approvers: [dba], timeout: 2m }
`

/** A key prefix of its own per test file run, so parallel files never see each other's requests. */
export const uniquePrefix = (name: string) =>
  `warden-cli-test:${name}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`

/** Starts `warden approvals serve` as a real subprocess; resolves with its URL once it listens. */
export function serveInbox(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ url: string; output: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    ['--conditions=warden-source', '--import', 'tsx', BIN, 'approvals', 'serve', ...args],
    { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8')
      const match = /approvals inbox on (http:\/\/\S+)/.exec(out)
      if (match) {
        resolve({
          url: match[1],
          output: () => out,
          stop: async () => {
            child.kill('SIGTERM')
            return exited
          },
        })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
    exited.then((code) => reject(new Error(`approvals serve exited ${code} before listening:\n${out}`)))
  })
}
