import {
  type Approver,
  autoApprove,
  autoDeny,
  type Command,
  callbackApprover,
  createWarden,
  WardenDeniedError,
  WardenError,
} from '@warden/core'
import { memorySink, stubBroker } from '@warden/core/testing'
import { compilePolicy, WardenApprovalError } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const policy = compilePolicy(`
rules:
  - name: readers-select
    resources: ["postgres:orders-*"]
    when: '"readers" in principal.groups && !sql.write'
    effect: allow
  - name: destructive
    when: 'sql.types.exists(t, t in ["DROP", "TRUNCATE"])'
    effect: deny
    reason: destructive statements are blocked
  - name: agent-writes
    when: 'principal.type == "agent" && sql.write'
    effect: approve
    approval: { approvers: [dba-oncall], timeout: 200ms }
masks:
  - name: pii
    resources: ["postgres:*"]
    columns: ["email"]
    strategy: redact
`)

const sqlFacts = (text: string, type: string, table: string) => {
  const write = type !== 'SELECT'
  return {
    text,
    statements: [
      { type, reads: write ? [] : [table], writes: write ? [table] : [], where: true, functions: [] },
    ],
    types: [type],
    reads: write ? [] : [table],
    writes: write ? [table] : [],
    tables: [table],
    write,
    unbounded: false,
    functions: [],
    flags: [],
    parsed: true,
    error: '',
  }
}
const resource = { kind: 'postgres', name: 'orders-prod' } as const
const select: Command = {
  resource,
  action: 'sql.query',
  text: 'SELECT id, email FROM orders',
  sql: sqlFacts('SELECT id, email FROM orders', 'SELECT', 'orders'),
}
const update: Command = {
  resource,
  action: 'sql.query',
  text: 'UPDATE orders SET paid = true WHERE id = $1',
  sql: sqlFacts('UPDATE orders SET paid = true WHERE id = $1', 'UPDATE', 'orders'),
}
const drop: Command = {
  resource,
  action: 'sql.query',
  text: 'DROP TABLE orders',
  sql: sqlFacts('DROP TABLE orders', 'DROP', 'orders'),
}

const reader = { id: 'svc-reports', type: 'service', groups: ['readers'] } as const
const agent = { id: 'agent-7', type: 'agent', groups: ['readers'] } as const

describe('session.execute', () => {
  it('allows, runs, masks and audits an allowed command', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal: reader })
    const rows = await session.execute(select, (ctx) => {
      expect(ctx.decision.effect).toBe('allow')
      expect(ctx.masker).not.toBeNull()
      const plan = ctx.masker!.plan([{ name: 'id' }, { name: 'email' }])
      const out = [
        { id: 1, email: 'ann@example.com' },
        { id: 2, email: 'bob@example.com' },
      ].map((r) => plan.applyObject(r))
      ctx.rows(out.length)
      return out
    })
    expect(rows.map((r) => r.email)).not.toContain('ann@example.com')
    expect(rows[0].id).toBe(1)
    const rec = audit.expectRecord({ type: 'command', outcome: { status: 'ok', rows: 2 } })
    expect(rec).toMatchObject({
      v: 1,
      session: session.id,
      principal: { id: 'svc-reports', type: 'service', groups: ['readers'] },
      resource: { kind: 'postgres', name: 'orders-prod' },
      action: 'sql.query',
      command: 'SELECT id, email FROM orders',
      facts: { types: ['SELECT'], reads: ['orders'] },
      decision: { effect: 'allow', rule: 'readers-select', revision: policy.revision },
      masked: [{ column: 'email', strategy: 'redact', count: 2 }],
      request: { principal: { id: 'svc-reports', issuer: '' }, resource: { labels: {} } },
    })
    expect(session.operations).toBe(1)
    await warden.close()
    expect(audit.verify()).toMatchObject({ ok: true, count: 4 })
    expect(audit.records.map((r) => r.type)).toEqual(['session.open', 'command', 'session.close'])
    // on the chain: the command record (stored before it ran) and its outcome record
    expect(audit.entries.map((r) => r.type)).toEqual(['session.open', 'command', 'outcome', 'session.close'])
  })

  it('denies by rule and by default with WardenDeniedError, audited, without running', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal: reader })
    let ran = false
    const err = await session
      .execute(drop, () => {
        ran = true
      })
      .catch((e) => e)
    expect(err).toBeInstanceOf(WardenDeniedError)
    expect(err).toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'destructive',
      reason: 'destructive statements are blocked',
    })
    const other = await session
      .execute({ ...select, resource: { kind: 'mysql', name: 'x' } }, () => {
        ran = true
      })
      .catch((e) => e)
    expect(other).toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'default' })
    expect(ran).toBe(false)
    expect(audit.filter({ outcome: { status: 'denied', code: 'ERR_WARDEN_DENIED' } })).toHaveLength(2)
    await warden.close()
  })

  it('records run errors with status error and rethrows the original error', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal: reader })
    const boom = Object.assign(new Error('relation "orders" does not exist'), { code: '42P01' })
    await expect(
      session.execute(select, () => {
        throw boom
      }),
    ).rejects.toBe(boom)
    audit.expectRecord({
      outcome: { status: 'error', code: '42P01', error: 'relation "orders" does not exist' },
    })
    await warden.close()
  })

  it('a policy that throws denies, audited', async () => {
    const audit = memorySink()
    const broken = {
      revision: 'sha256:x',
      decide: () => {
        throw new Error('kaboom')
      },
    }
    const warden = createWarden({ policy: broken, audit })
    const session = await warden.session({ principal: reader })
    await expect(session.execute(select, () => 1)).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'error',
    })
    audit.expectRecord({ decision: { effect: 'deny', rule: 'error' }, outcome: { status: 'denied' } })
    expect(session.check(select).effect).toBe('deny')
    await warden.close()
  })

  it('check decides without running or auditing', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal: reader })
    expect(session.check(select)).toMatchObject({ effect: 'allow', rule: 'readers-select' })
    expect(session.check(drop)).toMatchObject({ effect: 'deny', rule: 'destructive' })
    expect(audit.commands()).toHaveLength(0)
    expect(session.operations).toBe(0)
    await warden.close()
  })

  it('passes session facts and flow to the policy', async () => {
    const seen: unknown[] = []
    const spy = {
      revision: policy.revision,
      decide: (r: Parameters<typeof policy.decide>[0]) => {
        seen.push(structuredClone(r))
        return policy.decide(r)
      },
    }
    const warden = createWarden({ policy: spy, audit: memorySink() })
    const session = await warden.session({ principal: reader })
    await session.execute(select, () => 1)
    await session.execute(select, () => 1)
    expect(seen[0]).toMatchObject({ session: { id: session.id, operations: 0 }, flow: { reads: [] } })
    expect(seen[1]).toMatchObject({
      session: { operations: 1 },
      flow: { reads: ['postgres:orders-prod', 'postgres:orders-prod/orders'] },
    })
    await warden.close()
  })
})

describe('approvals in the pipeline', () => {
  it('approved: runs once, with the approval id and preview, audited with who approved', async () => {
    const audit = memorySink()
    const approvals = autoApprove({ by: 'alice' })
    const warden = createWarden({ policy, audit, approvals })
    const session = await warden.session({ principal: agent })
    const result = await session.execute(
      { ...update, preview: async () => ({ summary: 'UPDATE orders: 1 row' }) },
      (ctx) => ctx.approval,
    )
    expect(result?.preview).toEqual({ summary: 'UPDATE orders: 1 row' })
    const [req] = approvals.requests
    expect(req).toMatchObject({
      session: session.id,
      principal: { id: 'agent-7' },
      resource: { kind: 'postgres', name: 'orders-prod' },
      action: 'sql.query',
      command: update.text,
      rule: 'agent-writes',
      approvers: ['dba-oncall'],
      preview: { summary: 'UPDATE orders: 1 row' },
    })
    expect(req.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(req.expiresAt.getTime() - req.requestedAt.getTime()).toBe(200)
    audit.expectRecord({
      decision: { effect: 'approve' },
      approval: { id: req.id, status: 'approved', by: 'alice' },
      outcome: { status: 'ok' },
    })
    await warden.close()
  })

  it('rejected: does not run, status rejected', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit, approvals: autoDeny({ by: 'bob', reason: 'not now' }) })
    const session = await warden.session({ principal: agent })
    let ran = false
    await expect(
      session.execute(update, () => {
        ran = true
      }),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED', message: expect.stringContaining('bob') })
    expect(ran).toBe(false)
    const record = audit.expectRecord({
      approval: { status: 'rejected', by: 'bob' },
      outcome: { status: 'rejected' },
    })
    // The error carries what the approval was for and who answered: no message parsing needed.
    const err = await session.execute(update, () => 1).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WardenApprovalError)
    expect(err).toBeInstanceOf(WardenError)
    expect(err).toMatchObject({ rule: 'agent-writes', by: 'bob', approverReason: 'not now' })
    expect((err as WardenApprovalError).approval).toEqual(expect.any(String))
    expect((err as WardenApprovalError).approval).not.toBe(record.approval?.id)
    await warden.close()
  })

  it('timeout: expired, and the approver sees the abort', async () => {
    const audit = memorySink()
    let aborted = false
    const approvals = callbackApprover(
      (_req, signal) =>
        new Promise(() =>
          signal.addEventListener('abort', () => {
            aborted = true
          }),
        ),
    )
    const warden = createWarden({ policy, audit, approvals })
    const session = await warden.session({ principal: agent })
    await expect(session.execute(update, () => 1)).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_EXPIRED',
    })
    expect(aborted).toBe(true)
    audit.expectRecord({ approval: { status: 'expired' }, outcome: { status: 'expired' } })
    await warden.close()
  })

  it('an approval window longer than one timer holds (30 days) does not expire at once', async () => {
    const long = compilePolicy(`
rules:
  - name: month-long-review
    effect: approve
    approval: { approvers: [dba-oncall], timeout: 30d }
`)
    const audit = memorySink()
    let signal: AbortSignal | undefined
    const approvals = callbackApprover(async (req, s) => {
      signal = s
      // A timer past 2^31-1 ms overflows to 1 ms: long enough to see that it did not fire.
      await new Promise((r) => setTimeout(r, 20))
      expect(req.expiresAt.getTime() - req.requestedAt.getTime()).toBe(30 * 86_400_000)
      return !s.aborted
    })
    const warden = createWarden({ policy: long, audit, approvals })
    const session = await warden.session({ principal: agent })
    await expect(session.execute(update, () => 'ran')).resolves.toBe('ran')
    expect(signal?.aborted).toBe(false)
    audit.expectRecord({ approval: { status: 'approved' }, outcome: { status: 'ok' } })
    await warden.close()
  })

  it('an approval for another operation (fingerprint) or request id, or replayed, is refused', async () => {
    const audit = memorySink()
    let first: { id: string; fingerprint: string } | undefined
    const approvals = callbackApprover((req) => {
      first ??= { id: req.id, fingerprint: req.fingerprint }
      // replays the first approval it ever gave
      return { status: 'approved', by: 'mallory', fingerprint: first.fingerprint, id: first.id }
    })
    const warden = createWarden({ policy, audit, approvals })
    const session = await warden.session({ principal: agent })
    await session.execute(update, () => 1)
    // same operation again: the same approval cannot be used twice
    await expect(session.execute(update, () => 1)).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_MISMATCH',
    })
    const other: Command = { ...update, text: 'UPDATE orders SET paid = false WHERE id = $1' }
    await expect(session.execute(other, () => 1)).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_MISMATCH',
    })
    expect(audit.filter({ approval: { status: 'mismatch' }, outcome: { status: 'rejected' } })).toHaveLength(
      2,
    )
    await warden.close()
  })

  it('an approval that does not name the request (a saved answer replayed without its id) is refused', async () => {
    const audit = memorySink()
    let saved: { status: 'approved'; by: string; fingerprint: string } | undefined
    const approvals: Approver = {
      async request(req) {
        // A custom approver that keeps the first answer and hands it out again, without `id`.
        saved ??= { status: 'approved', by: 'mallory', fingerprint: req.fingerprint }
        return saved
      },
    }
    const warden = createWarden({ policy, audit, approvals })
    const session = await warden.session({ principal: agent })
    let runs = 0
    for (let i = 0; i < 2; i++)
      await expect(session.execute(update, () => ++runs)).rejects.toMatchObject({
        code: 'ERR_WARDEN_APPROVAL_MISMATCH',
        message: expect.stringContaining('without the request id'),
      })
    expect(runs).toBe(0)
    expect(audit.filter({ approval: { status: 'mismatch' }, outcome: { status: 'rejected' } })).toHaveLength(
      2,
    )
    await warden.close()
  })

  it('shadow rules that matched are in the audit record (what they would have done), and decide nothing', async () => {
    const trial = compilePolicy(`
rules:
  - name: readers-select
    when: '"readers" in principal.groups && !sql.write'
    effect: allow
  - name: trial-no-orders
    shadow: true
    when: '"orders" in sql.reads'
    effect: deny
  - name: trial-never
    shadow: true
    when: 'false'
    effect: deny
`)
    const audit = memorySink()
    const warden = createWarden({ policy: trial, audit })
    const session = await warden.session({ principal: reader })
    await expect(session.execute(select, () => 'rows')).resolves.toBe('rows')
    const record = audit.expectRecord({ command: select.text })
    expect(record.decision).toMatchObject({
      effect: 'allow',
      rule: 'readers-select',
      shadow: [{ rule: 'trial-no-orders', effect: 'deny', shadow: true }],
    })
    expect(audit.verify().ok).toBe(true)
    // Without a matching shadow rule the record has no `shadow` at all.
    await session.execute({ ...select, sql: { ...select.sql!, reads: ['customers'] } }, () => 0)
    expect(audit.commands().at(-1)?.decision?.shadow).toBeUndefined()
    await warden.close()
  })

  it('a signed bundle loader is a policy: decisions and audit revisions follow the bundle in force', async () => {
    const { generateKeyPairSync } = await import('node:crypto')
    const { bundleLoader, createBundle } = await import('@warden/policy')
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    let bundle = await createBundle(
      { 'sql.yaml': 'rules: [{name: readers, effect: allow, when: "\\"readers\\" in principal.groups"}]\n' },
      { key },
    )
    const loader = bundleLoader({
      url: 'https://policies.example.test/warden.bundle.json',
      trustedKeys: [publicKey.export({ type: 'spki', format: 'pem' }).toString()],
      intervalMs: 0,
      fetch: (async () => new Response(bundle, { status: 200 })) as typeof fetch,
    })
    expect(await loader.ready).toBe('updated')
    const audit = memorySink()
    const warden = createWarden({ policy: loader, audit })
    const session = await warden.session({ principal: reader })
    await expect(session.execute(select, () => 'rows')).resolves.toBe('rows')
    const first = loader.revision
    // A new bundle that denies the table goes into force: the same command is now refused.
    bundle = await createBundle(
      {
        'sql.yaml': 'rules: [{name: readers, effect: allow, when: "\\"readers\\" in principal.groups"}]\n',
        'deny.yaml': 'rules: [{name: no-orders, effect: deny, when: "\\"orders\\" in sql.reads"}]\n',
      },
      { key },
    )
    expect(await loader.refresh()).toBe('updated')
    await expect(session.execute(select, () => 'rows')).rejects.toMatchObject({ rule: 'no-orders' })
    expect(audit.commands().map((r) => r.decision?.revision)).toEqual([first, loader.revision])
    expect(loader.revision).not.toBe(first)
    loader.close()
    await warden.close()
  })

  it('no approver configured: approve rules deny', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal: agent })
    await expect(session.execute(update, () => 1)).rejects.toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
    audit.expectRecord({ outcome: { status: 'denied', code: 'ERR_WARDEN_CONFIG' } })
    await warden.close()
  })

  it('an approver that throws denies, audited', async () => {
    const audit = memorySink()
    const approvals = callbackApprover(() => {
      throw new Error('store down')
    })
    const warden = createWarden({ policy, audit, approvals })
    const session = await warden.session({ principal: agent })
    await expect(session.execute(update, () => 1)).rejects.toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_STORE',
    })
    audit.expectRecord({ outcome: { status: 'denied', code: 'ERR_WARDEN_APPROVAL_STORE' } })
    await warden.close()
  })
})

describe('leases in the pipeline', () => {
  it('takes a lease when asked, shares it, revokes on close; broker failure denies', async () => {
    const audit = memorySink()
    const broker = stubBroker()
    const warden = createWarden({ policy, audit, broker, leases: { retries: 1, backoffMs: 1 } })
    const session = await warden.session({ principal: reader })
    const ids = await Promise.all(
      [1, 2, 3].map(() => session.execute(select, (ctx) => ctx.lease?.id, { lease: true })),
    )
    expect(new Set(ids).size).toBe(1)
    expect(broker.issued).toBe(1)
    audit.expectRecord({ lease: ids[0], outcome: { status: 'ok' } })
    await session.close()
    expect(broker.revokedIds).toEqual([ids[0]])

    const s2 = await warden.session({ principal: { ...reader, id: 'svc-other' } })
    broker.fail()
    await expect(s2.execute(select, () => 1, { lease: true })).rejects.toMatchObject({
      code: 'ERR_WARDEN_BROKER',
    })
    audit.expectRecord({
      principal: { id: 'svc-other' },
      outcome: { status: 'denied', code: 'ERR_WARDEN_BROKER' },
    })
    await warden.close()
  })
})

describe('sessions', () => {
  it('run() makes a session ambient; warden.current() throws outside', async () => {
    const warden = createWarden({ policy, audit: memorySink() })
    const session = await warden.session({ principal: reader })
    expect(() => warden.current()).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_NO_SESSION' }))
    await session.run(async () => {
      await new Promise((r) => setTimeout(r, 1))
      expect(warden.current()).toBe(session)
    })
    const other = createWarden({ policy, audit: memorySink() })
    session.run(() => expect(() => other.current()).toThrow(WardenError))
    await warden.close()
    await other.close()
  })

  it('a closed session refuses commands; principals are validated', async () => {
    const warden = createWarden({ policy, audit: memorySink() })
    const session = await warden.session({ principal: reader })
    await session.close()
    expect(session.closed).toBe(true)
    await expect(session.execute(select, () => 1)).rejects.toMatchObject({
      code: 'ERR_WARDEN_SESSION_CLOSED',
    })
    await expect(warden.session({ principal: { id: '', type: 'service' } })).rejects.toMatchObject({
      code: 'ERR_WARDEN_CONFIG',
    })
    await expect(
      warden.session({ principal: { id: 'x', type: 'robot' as 'service' } }),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
    await warden.close()
  })

  it('createWarden rejects malformed plug-ins', () => {
    expect(() => createWarden({ policy: {} as never, audit: memorySink() })).toThrow(/policy/)
    expect(() => createWarden({ policy, audit: [] })).toThrow(/audit/)
    expect(() => createWarden({ policy, audit: memorySink(), broker: {} as never })).toThrow(/broker/)
    expect(() => createWarden({ policy, audit: memorySink(), approvals: {} as never })).toThrow(/approvals/)
    // A TypeError (bad arguments) that carries the stable code and counts as a WardenError.
    const bad = (() => {
      try {
        createWarden({ policy, audit: memorySink(), broker: {} as never })
      } catch (err) {
        return err
      }
    })()
    expect(bad).toBeInstanceOf(TypeError)
    expect(bad).toBeInstanceOf(WardenError)
    expect(bad).toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
  })
})

describe('every failing step denies and is audited', () => {
  it('a preview that throws denies the command before asking anyone', async () => {
    const audit = memorySink()
    const approvals = autoApprove()
    const warden = createWarden({ policy, audit, approvals })
    const session = await warden.session({ principal: agent })
    const failing: Command = { ...update, preview: () => Promise.reject(new Error('dry run failed')) }
    await expect(session.execute(failing, () => 1)).rejects.toThrow(/dry run failed/)
    expect(approvals.requests).toHaveLength(0)
    audit.expectRecord({ outcome: { status: 'denied', error: 'dry run failed' } })
    await warden.close()
  })

  it('a masking engine that throws denies with ERR_WARDEN_MASKING', async () => {
    const audit = memorySink()
    const masking = {
      masker() {
        throw new Error('bad rule')
      },
    } as never
    const warden = createWarden({ policy, audit, masking })
    const session = await warden.session({ principal: reader })
    let ran = false
    await expect(
      session.execute(select, () => {
        ran = true
      }),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_MASKING' })
    expect(ran).toBe(false)
    audit.expectRecord({ outcome: { status: 'denied', code: 'ERR_WARDEN_MASKING' } })
    await warden.close()
  })

  it('error messages are masked before they reach the audit record', async () => {
    const detecting = compilePolicy(`
defaults: { effect: allow }
rules: []
masks:
  - name: emails
    detectors: [email]
    strategy: redact
`)
    const audit = memorySink()
    const warden = createWarden({ policy: detecting, audit })
    const session = await warden.session({ principal: reader })
    await expect(
      session.execute(select, () => {
        throw new Error('duplicate key: carol@example.com')
      }),
    ).rejects.toThrow()
    const rec = audit.expectRecord({ outcome: { status: 'error' } })
    expect(rec.outcome?.error).toMatch(/^duplicate key: /)
    expect(JSON.stringify(audit.records)).not.toContain('carol@example.com')
    await warden.close()
  })

  it('closing the session while an approval is pending rejects the command', async () => {
    const audit = memorySink()
    let asked!: () => void
    const waiting = new Promise<void>((r) => {
      asked = r
    })
    const approvals = callbackApprover(() => {
      asked()
      return new Promise(() => {})
    })
    const warden = createWarden({ policy, audit, approvals })
    const session = await warden.session({ principal: agent })
    const pending = session.execute(update, () => 1)
    await waiting
    await session.close()
    await expect(pending).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED' })
    audit.expectRecord({ approval: { status: 'rejected' }, outcome: { status: 'rejected' } })
    await warden.close()
  })
})

describe('resource labels', () => {
  it('labels from createWarden({resources}) merge under the driver labels, reach the policy and the record', async () => {
    const labelled = compilePolicy(`
rules:
  - name: prod-readers
    when: 'resource.labels.env == "prod" && resource.labels.team == "payments"'
    effect: allow
`)
    const audit = memorySink()
    const warden = createWarden({
      policy: labelled,
      audit,
      resources: { 'postgres:orders-prod': { labels: { env: 'prod', team: 'other' } } },
    })
    const session = await warden.session({ principal: reader })
    const cmd: Command = { ...select, resource: { ...resource, labels: { team: 'payments' } } }
    await expect(session.execute(cmd, () => 'ok')).resolves.toBe('ok')
    audit.expectRecord({
      request: { resource: { labels: { env: 'prod', team: 'payments' } } },
      outcome: { status: 'ok' },
    })
    // without the driver's label, the configured one applies and the rule does not match
    await expect(session.execute(select, () => 'ok')).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
      rule: 'default',
    })
    await warden.close()
  })
})
