import { randomUUID } from 'node:crypto'
import type { ApprovalRequest } from '@warden/core'

export function approvalRequest(over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const now = Date.now()
  return {
    id: randomUUID(),
    fingerprint: `sha256:${randomUUID().replace(/-/g, '')}`,
    session: 'sess-1',
    principal: { id: 'agent-7', type: 'agent', groups: ['bots'], claims: {}, issuer: 'https://idp.test' },
    resource: { kind: 'postgres', name: 'orders-prod', labels: {} },
    action: 'sql.query',
    command: 'DELETE FROM orders WHERE id = $1',
    facts: { types: ['DELETE'], writes: ['orders'] },
    rule: 'agent-writes',
    reason: 'agent writes need a human',
    approvers: ['dba-oncall'],
    requestedAt: new Date(now),
    expiresAt: new Date(now + 30_000),
    preview: { summary: 'DELETE orders: 1 row', rowsAffected: [1] },
    ...over,
  }
}

/** Resolves when `check` returns a value other than undefined (polled on events, not on time budgets). */
export async function until<T>(check: () => Promise<T | undefined>, everyMs = 10): Promise<T> {
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
