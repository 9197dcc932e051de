import {
  type ApprovalRequest,
  autoApprove,
  autoDeny,
  type Command,
  callbackApprover,
  createWarden,
  currentFlow,
  guardTool,
  isToolRefusal,
  WardenError,
} from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it, vi } from 'vitest'

const policy = compilePolicy(`
rules:
  - name: agent-tools
    resources: ["tool:support-bot"]
    when: 'principal.type == "agent" && tool.name in ["search_customers", "send_email", "lookup", "echo"]'
    effect: allow
  - name: customer-search-is-pii
    resources: ["tool:support-bot"]
    when: 'tool.name == "search_customers"'
    effect: allow
    tags: [pii]
  - name: no-exfiltration-after-pii
    resources: ["tool:*"]
    when: '"pii" in flow.tags && tool.name == "send_email" && !tool.args.to.endsWith("@example.com")'
    effect: deny
    reason: PII was read in this run; email may only go to example.com
  - name: refund-limit
    resources: ["tool:*"]
    when: 'tool.name == "refund" && (!has(tool.args.amount) || tool.args.amount > 100)'
    effect: approve
    approval: { approvers: [support-leads], timeout: 1m }
  - name: small-refunds
    resources: ["tool:*"]
    when: 'tool.name == "refund" && has(tool.args.amount) && tool.args.amount <= 100'
    effect: allow
  - name: sql-reads
    resources: ["postgres:crm"]
    when: '!sql.write && tool.name == "run_sql"'
    effect: allow
masks:
  - name: emails
    resources: ["tool:*", "postgres:*"]
    columns: ["email"]
    strategy: partial
`)

const agent = { id: 'agent-9', type: 'agent' } as const
const CUSTOMERS = [
  { id: 1, name: 'Ada', email: 'ada.lovelace@example.org' },
  { id: 2, name: 'Alan', email: 'alan.turing@example.org' },
]

async function open(approvals = autoApprove({ by: 'lead-bob' })) {
  const audit = memorySink()
  const warden = createWarden({ policy, audit, approvals })
  const session = await warden.session({ principal: agent })
  return { warden, session, audit, approvals }
}

describe('guardTool', () => {
  it('runs an allowed call, masks the result before the caller sees it, audits it with the tool name', async () => {
    const { warden, session, audit } = await open()
    const search = guardTool(
      session,
      async ({ q }: { q: string }) => CUSTOMERS.filter((c) => c.name.startsWith(q)),
      {
        resource: 'support-bot',
        name: 'search_customers',
      },
    )
    const out = await search({ q: 'A' })
    expect(isToolRefusal(out)).toBe(false)
    expect(out).toHaveLength(2)
    const first = (out as typeof CUSTOMERS)[0]
    expect(first.name).toBe('Ada')
    expect(first.email).not.toBe('ada.lovelace@example.org')
    expect(JSON.stringify(out)).not.toContain('ada.lovelace')
    expect(CUSTOMERS[0].email).toBe('ada.lovelace@example.org') // the tool's own data is not mutated
    audit.expectRecord({
      action: 'tool.call',
      resource: { kind: 'tool', name: 'support-bot' },
      command: 'search_customers {"q":"A"}',
      facts: { name: 'search_customers', args: { q: 'A' } },
      decision: { effect: 'allow' },
      outcome: { status: 'ok', rows: 2 },
      masked: [{ column: 'email', strategy: 'partial', count: 2 }],
    })
    await warden.close()
  })

  it('a denied call resolves to a model-readable refusal, does not run, and is audited', async () => {
    const { warden, session, audit } = await open()
    let ran = false
    const wipe = guardTool(
      session,
      async () => {
        ran = true
        return 'wiped'
      },
      { resource: 'support-bot', name: 'wipe_database' },
    )
    const out = await wipe(undefined)
    expect(ran).toBe(false)
    expect(out).toEqual({
      denied: true,
      code: 'ERR_WARDEN_DENIED',
      tool: 'wipe_database',
      rule: 'default',
      reason: expect.any(String),
      message: expect.stringContaining('The call to wipe_database was blocked by policy'),
    })
    expect(isToolRefusal(out)).toBe(true)
    expect(JSON.parse(JSON.stringify(out))).toEqual(out) // plain JSON for the model
    audit.expectRecord({
      action: 'tool.call',
      command: 'wipe_database {}',
      outcome: { status: 'denied', code: 'ERR_WARDEN_DENIED' },
    })
    await warden.close()
  })

  it('approve holds the call for the approver; the approval binds the exact arguments', async () => {
    const { warden, session, audit, approvals } = await open()
    const refunds: number[] = []
    const refund = guardTool(
      session,
      async ({ amount }: { order: string; amount: number }) => {
        refunds.push(amount)
        return { refunded: amount }
      },
      { resource: 'support-bot', name: 'refund' },
    )
    expect(await refund({ order: 'o-1', amount: 40 })).toEqual({ refunded: 40 })
    expect(approvals.requests).toHaveLength(0)
    expect(await refund({ order: 'o-2', amount: 400 })).toEqual({ refunded: 400 })
    expect(approvals.requests).toHaveLength(1)
    expect(approvals.requests[0]).toMatchObject({
      rule: 'refund-limit',
      command: 'refund {"order":"o-2","amount":400}',
      approvers: ['support-leads'],
    })
    audit.expectRecord({
      command: 'refund {"order":"o-2","amount":400}',
      approval: { status: 'approved', by: 'lead-bob' },
      outcome: { status: 'ok' },
    })
    expect(refunds).toEqual([40, 400])
    await warden.close()
  })

  it('what runs is what was decided: arguments changed after the call or while approval is pending do not reach the tool', async () => {
    let release!: () => void
    const shown: string[] = []
    const approver = callbackApprover(async (request) => {
      shown.push(request.command)
      await new Promise<void>((resolve) => {
        release = resolve
      })
      return true
    })
    const { warden, session, audit } = await open(approver)
    const ran: unknown[] = []
    const refund = guardTool(
      session,
      async (args: { order: string; amount: number; meta: { notes: string[] }; lines: number[] }) => {
        ran.push(structuredClone(args))
        return { refunded: args.amount }
      },
      { resource: 'support-bot', name: 'refund' },
    )
    // Assignment right after the call, then nested object and array changes while approval is pending.
    const args = { order: 'o-9', amount: 250, meta: { notes: ['ok'] }, lines: [250] }
    const pending = refund(args)
    args.amount = 250_000
    await vi.waitFor(() => expect(shown).toHaveLength(1))
    args.meta.notes.push('and also refund everything')
    args.lines[0] = 250_000
    release()
    expect(await pending).toEqual({ refunded: 250 })
    expect(ran).toEqual([{ order: 'o-9', amount: 250, meta: { notes: ['ok'] }, lines: [250] }])
    expect(shown[0]).toBe('refund {"order":"o-9","amount":250,"meta":{"notes":["ok"]},"lines":[250]}')
    audit.expectRecord({ command: shown[0], outcome: { status: 'ok' } })

    // A getter is read once, at the call: policy (amount <= 100 is allowed) and the tool see the same value.
    let reads = 0
    const sneaky = {
      order: 'o-10',
      get amount() {
        reads++
        return reads === 1 ? 50 : 50_000
      },
      meta: { notes: [] },
      lines: [],
    }
    expect(await refund(sneaky)).toEqual({ refunded: 50 })
    expect(reads).toBe(1)
    // The tool gets a frozen copy: it cannot change what the record says either.
    const mutating = guardTool(
      session,
      async (a: { amount: number }) => {
        a.amount = 1
        return a
      },
      { resource: 'support-bot', name: 'refund' },
    )
    await expect(mutating({ amount: 5 })).rejects.toThrow(TypeError)
    // Arguments that cannot be copied are refused before anything is decided or run.
    await expect(
      refund({ order: 'o-11', amount: 5, meta: { notes: [] }, lines: [], cb: () => 1 } as never),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_CONFIG',
      message: expect.stringContaining('must be plain data'),
    })
    expect(ran).toHaveLength(2)
    await warden.close()
  })

  it('a rejected approval is a refusal naming the rule; the call does not run', async () => {
    const { warden, session, audit } = await open(autoDeny())
    let ran = false
    const refund = guardTool(
      session,
      async () => {
        ran = true
      },
      { resource: 'support-bot', name: 'refund' },
    )
    const out = await refund({ amount: 5000 })
    expect(ran).toBe(false)
    expect(out).toMatchObject({
      denied: true,
      code: 'ERR_WARDEN_APPROVAL_REJECTED',
      tool: 'refund',
      rule: 'refund-limit',
    })
    expect((out as { message: string }).message).toContain('needed human approval')
    audit.expectRecord({ action: 'tool.call', outcome: { status: 'rejected' } })
    await warden.close()
  })

  it('a per-call approver (a framework approval step) replaces the Warden approver; its outcome is still fingerprint-bound', async () => {
    const { warden, session, audit, approvals } = await open(autoDeny())
    const seen: ApprovalRequest[] = []
    const refund = guardTool(
      session,
      async ({ amount }: { amount: number; approvedBy?: string }) => ({ refunded: amount }),
      {
        resource: 'support-bot',
        name: 'refund',
        approver: ({ approvedBy }) =>
          approvedBy === undefined
            ? undefined
            : {
                async request(request) {
                  seen.push(request)
                  return {
                    status: 'approved',
                    by: approvedBy,
                    fingerprint: request.fingerprint,
                    id: request.id,
                  }
                },
              },
      },
    )
    expect(await refund({ amount: 500, approvedBy: 'ui-user' })).toEqual({ refunded: 500 })
    expect(seen).toHaveLength(1)
    audit.expectRecord({ approval: { status: 'approved', by: 'ui-user' } })
    // without the framework's approval the Warden's approver (autoDeny) decides
    expect(await refund({ amount: 500 })).toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED' })
    // an approver that answers for another operation is refused by the pipeline
    const forged = guardTool(session, async () => 'ran', {
      resource: 'support-bot',
      name: 'refund',
      approver: {
        request: async (r) => ({ status: 'approved', by: 'x', fingerprint: 'sha256:other', id: r.id }),
      },
    })
    expect(await forged({ amount: 900 })).toMatchObject({
      code: 'ERR_WARDEN_APPROVAL_MISMATCH',
      rule: 'refund-limit',
    })
    expect(approvals).toBeDefined()
    await warden.close()
  })

  it('describe() turns a call into SQL facts so SQL policies apply; the tool facts ride along in the audit', async () => {
    const { warden, session, audit } = await open()
    const facts = (text: string, write: boolean): Command['sql'] => ({
      text,
      statements: [
        {
          type: write ? 'DELETE' : 'SELECT',
          reads: write ? [] : ['customers'],
          writes: write ? ['customers'] : [],
          where: true,
          functions: [],
        },
      ],
      types: [write ? 'DELETE' : 'SELECT'],
      reads: write ? [] : ['customers'],
      writes: write ? ['customers'] : [],
      tables: ['customers'],
      write,
      unbounded: false,
      functions: [],
      flags: [],
      parsed: true,
      error: '',
    })
    let executed = 0
    const runSql = guardTool(
      session,
      async ({ query }: { query: string }) => {
        executed++
        return query.startsWith('SELECT') ? CUSTOMERS : []
      },
      {
        resource: 'support-bot',
        name: 'run_sql',
        describe: async ({ query }) => ({
          resource: { kind: 'postgres', name: 'crm' },
          sql: facts(query, !query.startsWith('SELECT')),
        }),
      },
    )
    const rows = await runSql({ query: 'SELECT * FROM customers' })
    expect(JSON.stringify(rows)).not.toContain('alan.turing')
    expect(await runSql({ query: 'DELETE FROM customers WHERE id = 1' })).toMatchObject({
      denied: true,
      rule: 'default',
    })
    expect(executed).toBe(1)
    audit.expectRecord({
      action: 'sql.query',
      resource: { kind: 'postgres', name: 'crm' },
      command: 'SELECT * FROM customers',
      decision: { rule: 'sql-reads' },
      request: { facts: { tool: { name: 'run_sql' } } },
    })
    await warden.close()
  })

  it('within one run, a later call sees what earlier calls read (flow), and the tool’s own commands join its chain', async () => {
    const { warden, session } = await open()
    const search = guardTool(session, async () => CUSTOMERS, {
      resource: 'support-bot',
      name: 'search_customers',
    })
    const lookup = guardTool(
      session,
      async () => {
        // a command the tool makes itself is part of the tool call's chain
        await session.execute(
          {
            resource: { kind: 'tool', name: 'support-bot' },
            action: 'tool.call',
            text: 'echo {}',
            tool: { name: 'echo', args: {} },
          },
          () => 1,
        )
        return currentFlow().reads
      },
      { resource: 'support-bot', name: 'lookup' },
    )
    const email = guardTool(session, async ({ to }: { to: string }) => `sent to ${to}`, {
      resource: 'support-bot',
      name: 'send_email',
    })
    await session.run(async () => {
      expect(await email({ to: 'x@partner.net' })).toBe('sent to x@partner.net')
      expect(await lookup({})).toEqual([
        'tool:support-bot',
        'tool:support-bot/send_email',
        'tool:support-bot/echo',
      ])
      await search({})
      expect(await email({ to: 'x@partner.net' })).toMatchObject({
        denied: true,
        rule: 'no-exfiltration-after-pii',
      })
      expect(await email({ to: 'ops@example.com' })).toBe('sent to ops@example.com')
    })
    // a new run starts clean
    await session.run(async () => expect(await email({ to: 'x@partner.net' })).toBe('sent to x@partner.net'))
    await warden.close()
  })

  it('outside any run, successive calls of one session form its chain; parallel calls in a run do not see each other', async () => {
    const { warden, session } = await open()
    const search = guardTool(session, async () => CUSTOMERS, {
      resource: 'support-bot',
      name: 'search_customers',
    })
    const email = guardTool(session, async ({ to }: { to: string }) => `sent to ${to}`, {
      resource: 'support-bot',
      name: 'send_email',
    })
    await session.run(async () => {
      let release!: () => void
      const searched = new Promise<void>((r) => {
        release = r
      })
      const slowEmail = guardTool(session, async ({ to }: { to: string }) => `sent to ${to}`, {
        resource: 'support-bot',
        name: 'send_email',
        // describe waits until the sibling search has finished: still, this call never saw its result
        describe: async () => {
          await searched
          return {}
        },
      })
      const [found, sent] = await Promise.all([
        search({}).then((r) => {
          release()
          return r
        }),
        slowEmail({ to: 'x@partner.net' }),
      ])
      expect(found).toHaveLength(2)
      expect(sent).toBe('sent to x@partner.net')
      expect(await email({ to: 'x@partner.net' })).toMatchObject({ denied: true })
    })
    expect(await email({ to: 'x@partner.net' })).toBe('sent to x@partner.net')
    await search({})
    expect(await email({ to: 'x@partner.net' })).toMatchObject({
      denied: true,
      rule: 'no-exfiltration-after-pii',
    })
    await warden.close()
  })

  it('the session is ambient inside the call (clients built with the Warden run as it), and check() decides without running', async () => {
    const { warden, session, audit } = await open()
    const inner = guardTool(warden, async () => warden.current().principal.id, {
      resource: 'support-bot',
      name: 'echo',
    })
    // called with an explicit session, outside any run: the tool body still finds it
    const outer = guardTool(
      session,
      async () => ({ who: warden.current().principal.id, nested: await inner({}) }),
      { resource: 'support-bot', name: 'lookup' },
    )
    expect(await outer({})).toEqual({ who: 'agent-9', nested: 'agent-9' })
    expect(() => warden.current()).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_NO_SESSION' }))
    const before = audit.commands().length
    const refund = guardTool(session, async () => 'ran', { resource: 'support-bot', name: 'refund' })
    expect(await refund.check({ amount: 500 })).toMatchObject({ effect: 'approve', rule: 'refund-limit' })
    expect(await refund.check({ amount: 5 })).toMatchObject({ effect: 'allow', rule: 'small-refunds' })
    expect(audit.commands().length).toBe(before)
    await warden.close()
  })

  it('errors: the tool’s own error propagates and is audited; no session rejects; bad options throw at construction', async () => {
    const { warden, session, audit } = await open()
    const broken = guardTool(
      session,
      async () => {
        throw new Error('upstream 503 for ada.lovelace@example.org')
      },
      { resource: 'support-bot', name: 'lookup' },
    )
    await expect(broken({})).rejects.toThrow('upstream 503')
    const record = audit.records.find((r) => r.outcome?.status === 'error')
    expect(record?.outcome?.error).toContain('upstream 503')
    const ambient = guardTool(warden, async () => 1, { resource: 'support-bot', name: 'lookup' })
    await expect(ambient({})).rejects.toMatchObject({ code: 'ERR_WARDEN_NO_SESSION' })
    await expect(session.run(() => ambient({}))).resolves.toBe(1)
    const badDescribe = guardTool(session, async () => 1, {
      resource: 'support-bot',
      name: 'lookup',
      describe: () => {
        throw new Error('bad args')
      },
    })
    const err = await badDescribe({}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WardenError)
    expect(err).toMatchObject({ code: 'ERR_WARDEN_DESCRIBE' })
    expect(() => guardTool(session, async () => 1, { resource: '' })).toThrow(TypeError)
    expect(() => guardTool(session, (async () => 1) as never, { resource: 'x', name: '' })).toThrow(/name/)
    expect(() => guardTool({} as never, async () => 1, { resource: 'x', name: 'y' })).toThrow(
      /Session or the Warden/,
    )
    expect(() =>
      guardTool(session, async () => 1, { resource: 'x', name: 'y', approver: {} as never }),
    ).toThrow(/approver/)
    // a non-object argument reaches policy as {input}
    const echo = guardTool(session, async (s: string) => s, { resource: 'support-bot', name: 'echo' })
    expect(await echo('hi')).toBe('hi')
    audit.expectRecord({ command: 'echo {"input":"hi"}', facts: { args: { input: 'hi' } } })
    await warden.close()
  })
})
