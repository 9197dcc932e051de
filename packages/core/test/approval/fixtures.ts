import { createHash, randomUUID } from 'node:crypto'
import { type ApprovalRequest, generateCheckpointKeys } from '@warden/core'

/** An approver service's key pair: the deciding side signs, the waiting side trusts the public key. */
export const serviceKeys = generateCheckpointKeys()
/** Store options for a process that both waits and decides (tests play both sides). */
export const signed = { signingKey: serviceKeys.privateKey, trustedKeys: [serviceKeys.publicKey] }

/** The fingerprint core computes (internal/fingerprint.ts), so stores accept decisions on it. */
export function fingerprintOf(r: Pick<ApprovalRequest, 'resource' | 'action' | 'command'>): string {
  const text = r.command.replace(/\r\n?/g, '\n').trim()
  const digest = createHash('sha256').update(`${r.resource.kind}:${r.resource.name}\n${r.action}\n${text}`)
  return `sha256:${digest.digest('hex')}`
}

export function approvalRequest(over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const now = Date.now()
  const r: ApprovalRequest = {
    id: randomUUID(),
    fingerprint: '',
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
  return over.fingerprint === undefined ? { ...r, fingerprint: fingerprintOf(r) } : r
}

/** A reviewer allowed by the fixture's rule (approvers: dba-oncall). */
export const dba = { groups: ['dba-oncall'] } as const

/** Resolves when `check` returns a value other than undefined (polled on events, not on time budgets). */
export async function until<T>(check: () => Promise<T | undefined>, everyMs = 10): Promise<T> {
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
