// Warden fixtures: SQL commands described by the real PostgreSQL parser, and audit logs
// written by a real createWarden + jsonlSink.
import { type Command, createWarden, type ExecuteContext, jsonlSink, type Session } from '@warden/core'
import { autoApprove } from '@warden/core/testing'
import { describePostgres } from '@warden/drivers/pg'
import { loadPolicy } from '@warden/policy'

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
