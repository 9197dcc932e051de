// The approval store (Redis) dies or restarts while a command waits for a human. The waiting
// command must end denied with a typed error (never run, never allowed), the audit trail says so,
// decisions made against the dead store are refused, and once Redis is back approvals work again.
// Uses a private redis-server child: the shared one on 6379 is never touched.
import { randomBytes } from 'node:crypto'
import {
  type Command,
  createWarden,
  generateCheckpointKeys,
  redisApprovals,
  type Session,
  type Warden,
  WardenError,
} from '@warden/core'
import { type MemorySink, memorySink } from '@warden/core/testing'
import { describePostgres, loadPostgresParser } from '@warden/drivers/pg'
import { compilePolicy, type SqlFacts } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startRedis, type ThrowawayRedis } from './helpers.js'

const KEYS = generateCheckpointKeys()
const POLICY = compilePolicy(`
defaults: { effect: deny }
rules:
  - name: held-deletes
    when: 'sql.types.exists(t, t == "DELETE")'
    effect: approve
    approval: { approvers: [dba], timeout: 30s }
`)

let redis: ThrowawayRedis
let approvals: ReturnType<typeof redisApprovals>
let warden: Warden
let sink: MemorySink
let session: Session

const DELETE = (n: number): Command => {
  const text = `DELETE FROM orders WHERE id = ${n}`
  return {
    resource: { kind: 'postgres', name: 'orders' },
    action: 'sql.query',
    text,
    sql: describePostgres(text) as SqlFacts,
  }
}

async function pendingCount(): Promise<number> {
  for (;;) {
    try {
      return (await approvals.pending()).length
    } catch {
      await new Promise((r) => setTimeout(r, 50)) // store still coming back
    }
  }
}
async function waitPending(n: number): Promise<void> {
  while ((await pendingCount()) < n) await new Promise((r) => setTimeout(r, 20))
}

beforeAll(async () => {
  await loadPostgresParser()
  redis = await startRedis()
  approvals = redisApprovals({
    redis: redis.url,
    prefix: `rel:${randomBytes(4).toString('hex')}:`,
    pollMs: 100,
    commandTimeoutMs: 500,
    outageToleranceMs: 2000,
    // Waits and decides (the test plays the inbox): signs with the key it trusts.
    signingKey: KEYS.privateKey,
    trustedKeys: [KEYS.publicKey],
  })
  sink = memorySink()
  warden = createWarden({ policy: POLICY, audit: sink, approvals })
  session = await warden.session({ principal: { id: 'agent-7', type: 'agent' } })
})
afterAll(async () => {
  await warden?.close()
  await approvals?.close()
  await redis?.stop()
})

describe('approval store faults', () => {
  it('baseline: an approval through the store releases exactly one command', async () => {
    let ran = 0
    const pending = session.execute(DELETE(1), () => ++ran)
    await waitPending(1)
    const [record] = await approvals.pending()
    await approvals.decide(record.id, { status: 'approved', by: 'alice', groups: ['dba'] })
    expect(await pending).toBe(1)
    expect(ran).toBe(1)
  })

  it('Redis stalled mid-wait (its data kept): the wait rides it out and the approval still releases the command once', async () => {
    let ran = 0
    const pending = session.execute(DELETE(6), () => ++ran)
    await waitPending(1)
    const [record] = await approvals.pending()
    // Longer than a Redis call may take (500 ms): several polls fail while it is frozen.
    await redis.pause(1200)
    await approvals.decide(record.id, { status: 'approved', by: 'alice', groups: ['dba'] })
    expect(await pending).toBe(1)
    expect(ran).toBe(1)
    sink.expectRecord({ command: 'DELETE FROM orders WHERE id = 6', outcome: { status: 'ok' } })
  })

  it('Redis killed mid-wait: the command is refused with a typed error and never runs', async () => {
    let ran = 0
    const pending = session
      .execute(DELETE(2), () => ++ran)
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    await waitPending(1)
    await redis.kill()
    const error = await pending
    expect(error).toBeInstanceOf(WardenError)
    expect(['ERR_WARDEN_APPROVAL_STORE', 'ERR_WARDEN_APPROVAL_EXPIRED']).toContain(
      (error as WardenError).code,
    )
    expect(ran).toBe(0)
    const record = sink.expectRecord({ command: 'DELETE FROM orders WHERE id = 2' })
    expect(['denied', 'expired']).toContain(record.outcome?.status)

    // A reviewer deciding while the store is down is refused, not silently accepted.
    const decided = await approvals
      .decide('anything', { status: 'approved', by: 'alice', groups: ['dba'] })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(decided).toBeInstanceOf(WardenError)

    // And a new command that needs approval is refused while the store is down.
    const refused = await session
      .execute(DELETE(3), () => ++ran)
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect((refused as WardenError).code).toBe('ERR_WARDEN_APPROVAL_STORE')
    expect(ran).toBe(0)
    await redis.start()
  })

  it('Redis restarted (empty) under a waiting command: the old request is gone, its id cannot be approved, new ones work', async () => {
    let ran = 0
    // An inbox listening on pub/sub across the restart (the store resubscribes on its own).
    const events: string[] = []
    const stop = approvals.subscribe((e) =>
      events.push(e.type === 'pending' ? `pending ${e.record.request.command}` : e.type),
    )
    const pending = session
      .execute(DELETE(4), () => ++ran)
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    await waitPending(1)
    const [old] = await approvals.pending()
    await redis.kill()
    await redis.start()
    // Approving the lost request after the restart is refused (the store no longer knows it).
    let late: unknown
    for (;;) {
      late = await approvals.decide(old.id, { status: 'approved', by: 'alice', groups: ['dba'] }).then(
        () => 'accepted',
        (e: unknown) => e,
      )
      if (!(late instanceof WardenError && late.code === 'ERR_WARDEN_APPROVAL_STORE')) break
      await new Promise((r) => setTimeout(r, 50)) // still reconnecting
    }
    expect(late).toBeInstanceOf(WardenError)
    expect((late as WardenError).code).toBe('ERR_WARDEN_APPROVAL_DECISION')
    const error = await pending
    expect(error).toBeInstanceOf(WardenError)
    expect(['ERR_WARDEN_APPROVAL_STORE', 'ERR_WARDEN_APPROVAL_EXPIRED']).toContain(
      (error as WardenError).code,
    )
    expect(ran).toBe(0)

    // The store works again: pub/sub and polling pick up a fresh decision.
    const next = session.execute(DELETE(5), () => ++ran)
    await waitPending(1)
    const [fresh] = await approvals.pending()
    expect(fresh.id).not.toBe(old.id)
    // Pub/sub works again after the restart: the listener heard of the new request.
    await vi.waitFor(() => expect(events).toContain('pending DELETE FROM orders WHERE id = 5'), {
      timeout: 10_000,
    })
    stop()
    await approvals.decide(fresh.id, { status: 'approved', by: 'alice', groups: ['dba'] })
    expect(await next).toBe(1)

    // Every command has exactly one record, and the chain is intact.
    const texts = sink.commands().map((r) => r.command)
    expect(texts).toEqual([1, 6, 2, 3, 4, 5].map((n) => `DELETE FROM orders WHERE id = ${n}`))
    expect(sink.commands().map((r) => r.outcome?.status)).toEqual([
      'ok',
      'ok',
      expect.stringMatching(/^(denied|expired)$/),
      'denied',
      expect.stringMatching(/^(denied|expired)$/),
      'ok',
    ])
    expect(sink.verify().ok).toBe(true)
  })
})
