// The main job: `warden demo`, on the embedded Postgres and on the real server.
import { join } from 'node:path'
import { readAudit } from '@warden/core'
import { describe, expect, it } from 'vitest'
import { runWarden, tempDir } from './helpers.js'

// The log read as records: each command joined with its outcome record.
async function auditRecords(file: string) {
  const records: Record<string, any>[] = []
  for await (const r of readAudit(file)) records.push(r)
  return records
}

describe('warden demo', () => {
  it('runs on the embedded Postgres: masks, blocks, approves, verifies the chain', {
    timeout: 180_000,
  }, async () => {
    const dir = tempDir('demo-embedded')
    const audit = join(dir.dir, 'audit.jsonl')
    const r = await runWarden(['demo', '--approve', 'auto', '--audit', audit])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    // PII masked, by column and through a join alias.
    expect(r.stdout).toContain('***@example.com')
    expect(r.stdout).toContain('***-**-6789')
    expect(r.stdout).not.toContain('123-45-6789')
    expect(r.stdout).not.toContain('ada@example.com')
    expect(r.stdout).toMatch(/hash chain verified: \d+ records/)
    const records = await auditRecords(audit)
    const commands = records.filter((rec) => rec.type === 'command' || rec.action)
    const byCommand = (prefix: string) => commands.find((rec) => String(rec.command).startsWith(prefix))
    expect(byCommand('DROP TABLE')?.decision).toMatchObject({ effect: 'deny', rule: 'destructive-sql' })
    expect(byCommand('DELETE FROM orders')?.outcome.status).toBe('denied')
    // A read the policy allowed, refused by PostgreSQL under the read-only mode: nothing deleted
    // (the agent's UPDATE of the disputed order below still finds its row).
    const report = byCommand('SELECT order_report()')
    expect(report?.decision).toMatchObject({ effect: 'allow', rule: 'readers-select' })
    expect(report?.outcome).toMatchObject({
      status: 'denied',
      code: 'ERR_WARDEN_DENIED',
      rule: 'warden:read-only',
    })
    expect(r.stdout).toMatch(
      /refused \[ERR_WARDEN_DENIED\].*read-only|refused \[ERR_WARDEN_DENIED\].*server refused/,
    )
    const update = byCommand("UPDATE orders SET status = 'refunded'")
    expect(update?.decision.effect).toBe('approve')
    expect(update?.approval).toMatchObject({ status: 'approved' })
    expect(update?.outcome).toMatchObject({ status: 'ok', rows: 1 })
    // Parameter values are never recorded.
    expect(JSON.stringify(records)).not.toContain('disputed"]')
    dir.remove()
  })

  it('runs against a real server with --database-url; rejected approvals do not run', {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir('demo-real')
    const audit = join(dir.dir, 'audit.jsonl')
    const schema = `warden_demo_${process.pid}`
    const r = await runWarden([
      'demo',
      '--database-url',
      'postgres://postgres@127.0.0.1:5432/test',
      '--schema',
      schema,
      '--approve',
      'deny',
      '--audit',
      audit,
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('ERR_WARDEN_APPROVAL_REJECTED')
    const update = (await auditRecords(audit)).find((rec) =>
      String(rec.command).startsWith("UPDATE orders SET status = 'refunded'"),
    )
    expect(update?.outcome.status).toBe('rejected')
    dir.remove()
  })

  it('refuses bad options with usage and exit code 2', async () => {
    const r = await runWarden(['demo', '--approve', 'maybe'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--approve must be console, auto or deny')
    const s = await runWarden(['demo', '--schema', 'x; drop table y'])
    expect(s.code).toBe(2)
    expect(s.stderr).toContain('--schema must be a lower-case SQL identifier')
  })
})
