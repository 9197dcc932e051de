import {
  autoApprove,
  autoDeny,
  type Command,
  createWarden,
  currentFlow,
  type ExecuteContext,
  WardenError,
} from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy, type RequestInput } from '@warden/policy'
import { describe, expect, it } from 'vitest'
import { deleteOrder, gate, post, selectCustomers, selectOrders } from './facts.js'

const policy = compilePolicy(`
rules:
  - name: read-crm
    resources: ["postgres:crm"]
    when: '!sql.write'
    effect: allow
  - name: customer-tables
    resources: ["postgres:crm"]
    when: '"customers" in sql.reads'
    effect: allow
    tags: [customer-data]
  - name: writes
    resources: ["postgres:crm"]
    when: 'sql.write'
    effect: allow
  - name: delete-after-pii
    resources: ["postgres:crm"]
    when: '"pii" in flow.tags && "DELETE" in sql.types'
    effect: approve
    approval: { approvers: [dba], timeout: 1m }
  - name: egress-allowlist
    resources: ["http:*"]
    when: 'http.host in ["api.example.com", "hooks.partner.net"]'
    effect: allow
  - name: no-egress-after-customers
    resources: ["http:*"]
    when: '"postgres:crm/customers" in flow.reads && http.host != "api.example.com"'
    effect: deny
    reason: customer data was read in this run; only api.example.com may receive it
masks:
  - name: emails
    resources: ["postgres:*"]
    columns: ["email"]
    strategy: partial
    tags: [pii]
`)

const agent = { id: 'agent-1', type: 'agent' } as const

/** A run function that returns rows through the mask plan, as the pg driver does. */
const rows =
  (columns: string[], data: Record<string, unknown>[]) =>
  (context: ExecuteContext): Record<string, unknown>[] => {
    const plan = context.masker?.plan(columns.map((name) => ({ name, table: 'customers' })))
    return data.map((r) => (plan ? plan.applyObject({ ...r }) : r))
  }
const customers = rows(['id', 'email'], [{ id: 1, email: 'ada@example.org' }])
const orders = (context: ExecuteContext) => {
  const plan = context.masker?.plan([{ name: 'id' }, { name: 'total' }])
  return [{ id: 7, total: 10 }].map((r) => (plan ? plan.applyObject({ ...r }) : r))
}

async function open(approvals = autoApprove({ by: 'dba-alice' })) {
  const audit = memorySink()
  const seen: RequestInput[] = []
  const spy = {
    revision: policy.revision,
    decide: (r: RequestInput) => {
      seen.push(r)
      return policy.decide(r)
    },
  }
  const warden = createWarden({ policy: spy, audit, approvals })
  const session = await warden.session({ principal: agent })
  return { warden, session, audit, seen, approvals }
}

describe('flow: after reading customers, no http.request outside the allow-list', () => {
  it('denies egress to a non-allow-listed host only after customers were read in the run', async () => {
    const { warden, session, audit } = await open()
    await session.run(async () => {
      await session.execute(post('https://hooks.partner.net/x'), () => 'sent')
      await session.execute(selectOrders, orders)
      await session.execute(post('https://hooks.partner.net/x'), () => 'sent')
      await session.execute(selectCustomers, customers)
      const err = await session
        .execute(post('https://hooks.partner.net/x'), () => 'sent')
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(WardenError)
      expect(err).toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'no-egress-after-customers' })
      // the allow-listed host still works
      await expect(session.execute(post('https://api.example.com/v1'), () => 'ok')).resolves.toBe('ok')
    })
    const http = audit.records
      .filter((r) => r.action === 'http.request')
      .map((r) => [r.outcome?.status, r.decision?.rule])
    expect(http).toEqual([
      ['ok', 'egress-allowlist'],
      ['ok', 'egress-allowlist'],
      ['denied', 'no-egress-after-customers'],
      ['ok', 'egress-allowlist'],
    ])
    await warden.close()
  })

  it('each request sees what the chain saw before it, not its own reads', async () => {
    const { warden, session, seen } = await open()
    await session.run(async () => {
      await session.execute(selectCustomers, customers)
      await session.execute(selectCustomers, customers)
    })
    expect(seen[0]?.flow).toEqual({ reads: [], tags: [] })
    expect(seen[1]?.flow?.reads).toEqual(['postgres:crm', 'postgres:crm/customers'])
    expect([...(seen[1]?.flow?.tags ?? [])].sort()).toEqual(['customer-data', 'pii'])
    // snapshots are immutable: the first request's flow was not changed afterwards
    expect(Object.isFrozen(seen[1]?.flow)).toBe(true)
    expect(Object.isFrozen(seen[1]?.flow?.reads)).toBe(true)
    await warden.close()
  })

  it('a denied read adds nothing to the flow; a failed one (partly run) does', async () => {
    const { warden, session } = await open()
    const hidden: Command = { ...selectCustomers, resource: { kind: 'postgres', name: 'other' } }
    await session.run(async () => {
      await expect(session.execute(hidden, customers)).rejects.toMatchObject({
        code: 'ERR_WARDEN_DENIED',
        rule: 'default',
      })
      expect(currentFlow().reads).toEqual([])
      await expect(
        session.execute(selectOrders, () => {
          throw new Error('connection reset mid-result')
        }),
      ).rejects.toThrow('connection reset')
      expect(currentFlow().reads).toEqual(['postgres:crm', 'postgres:crm/orders'])
    })
    await warden.close()
  })
})

describe('flow: no DELETE after a PII read without approval', () => {
  it('a DELETE is allowed before PII was read, held for approval after', async () => {
    const { warden, session, audit, approvals } = await open()
    await session.run(async () => {
      await session.execute(deleteOrder, () => 1)
      expect(approvals.requests).toHaveLength(0)
      await session.execute(selectCustomers, customers)
      await session.execute(deleteOrder, () => 1)
    })
    expect(approvals.requests).toHaveLength(1)
    expect(approvals.requests[0]).toMatchObject({ rule: 'delete-after-pii', command: deleteOrder.text })
    expect(
      audit.records.filter((r) => r.command === deleteOrder.text).map((r) => r.approval?.by ?? null),
    ).toEqual([null, 'dba-alice'])
    await warden.close()
  })

  it('without an approval it does not run', async () => {
    const { warden, session, audit } = await open(autoDeny())
    let ran = false
    await session.run(async () => {
      await session.execute(selectCustomers, customers)
      await expect(
        session.execute(deleteOrder, () => {
          ran = true
        }),
      ).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED' })
    })
    expect(ran).toBe(false)
    audit.expectRecord({ command: deleteOrder.text, outcome: { status: 'rejected' } })
    await warden.close()
  })

  it('pii comes from a mask that masked something: reading tables without masked columns does not tag', async () => {
    const { warden, session } = await open(autoDeny())
    await session.run(async () => {
      await session.execute(selectOrders, orders)
      expect(currentFlow().tags).toEqual([])
      // customers read without the email column: the rule tag applies, the mask tag does not
      await session.execute(selectCustomers, rows(['id'], [{ id: 1 }]))
      expect(currentFlow().tags).toEqual(['customer-data'])
      await expect(session.execute(deleteOrder, () => 1)).resolves.toBe(1)
    })
    await warden.close()
  })
})

describe('flow: chains are exact', () => {
  it('two concurrent runs of one session do not leak into each other', async () => {
    const { warden, session } = await open()
    const aRead = gate()
    const bSent = gate()
    const a = session.run(async () => {
      await session.execute(selectCustomers, customers)
      aRead.open()
      await bSent.wait
      return session
        .execute(post('https://hooks.partner.net/a'), () => 'a-sent')
        .catch((e: WardenError) => e.code)
    })
    const b = session.run(async () => {
      await aRead.wait
      const sent = await session.execute(post('https://hooks.partner.net/b'), () => 'b-sent')
      bSent.open()
      return [sent, currentFlow().reads]
    })
    expect(await a).toBe('ERR_WARDEN_DENIED')
    expect(await b).toEqual(['b-sent', []])
    await warden.close()
  })

  it('two sessions used directly keep separate chains; a run does not see its session’s direct commands', async () => {
    const { warden, session } = await open()
    const other = await warden.session({ principal: agent })
    await session.execute(selectCustomers, customers)
    expect(currentFlow(session).reads).toContain('postgres:crm/customers')
    expect(currentFlow(other).reads).toEqual([])
    await expect(other.execute(post('https://hooks.partner.net/x'), () => 'ok')).resolves.toBe('ok')
    await expect(session.execute(post('https://hooks.partner.net/x'), () => 'ok')).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    // a run is a chain of its own
    await session.run(() =>
      expect(session.execute(post('https://hooks.partner.net/x'), () => 'ok')).resolves.toBe('ok'),
    )
    await warden.close()
  })

  it('a nested run sees its parent and reports back; siblings running at the same time do not see each other', async () => {
    const { warden, session } = await open()
    await session.run(async () => {
      await session.execute(selectOrders, orders)
      const first = gate()
      const [left, right] = await Promise.all([
        session.run(async () => {
          expect(currentFlow().reads).toEqual(['postgres:crm', 'postgres:crm/orders'])
          await session.execute(selectCustomers, customers)
          first.open()
          return currentFlow().reads
        }),
        session.run(async () => {
          await first.wait
          // the sibling read customers meanwhile; this chain never saw that data
          return session.execute(post('https://hooks.partner.net/x'), () => currentFlow().reads)
        }),
      ])
      expect(left).toEqual(['postgres:crm', 'postgres:crm/orders', 'postgres:crm/customers'])
      expect(right).toEqual(['postgres:crm', 'postgres:crm/orders'])
      // the parent saw both children's results
      expect(currentFlow().reads).toEqual(['postgres:crm', 'postgres:crm/orders', 'postgres:crm/customers'])
      await expect(session.execute(post('https://hooks.partner.net/x'), () => 'ok')).rejects.toMatchObject({
        code: 'ERR_WARDEN_DENIED',
      })
    })
    await warden.close()
  })

  it('session.check sees the chain too', async () => {
    const { warden, session } = await open()
    await session.run(async () => {
      expect(session.check(post('https://hooks.partner.net/x')).effect).toBe('allow')
      await session.execute(selectCustomers, customers)
      expect(session.check(post('https://hooks.partner.net/x'))).toMatchObject({
        effect: 'deny',
        rule: 'no-egress-after-customers',
      })
    })
    expect(session.check(post('https://hooks.partner.net/x')).effect).toBe('allow')
    await warden.close()
  })

  it('reads of every kind: sql tables, http GET host, kube get/list, sftp.read, tool calls; writes and POSTs are not reads', async () => {
    const warden = createWarden({
      policy: compilePolicy('defaults: { effect: allow }\nrules: []'),
      audit: memorySink(),
    })
    const session = await warden.session({ principal: agent })
    const kube = (verb: string, resource: string, subresource = ''): Command => ({
      resource: { kind: 'kubernetes', name: 'prod' },
      action: `kube.${verb}` as Command['action'],
      text: `${verb} ${resource}`,
      kube: {
        verb,
        group: '',
        version: 'v1',
        resource,
        subresource,
        namespace: 'default',
        name: '',
        command: [],
        container: '',
      },
    })
    const get: Command = {
      resource: { kind: 'http', name: 'egress' },
      action: 'http.request',
      text: 'GET https://api.example.com/a',
      http: {
        method: 'GET',
        url: 'https://api.example.com/a',
        host: 'api.example.com',
        path: '/a',
        query: {},
        headers: {},
      },
    }
    const reads = await session.run(async () => {
      for (const c of [
        get,
        post('https://hooks.partner.net/b'),
        kube('list', 'secrets'),
        kube('get', 'pods', 'log'),
        kube('delete', 'deployments'),
        {
          resource: { kind: 'ssh', name: 'bastion' },
          action: 'sftp.read',
          text: 'read /etc/app.conf',
          sftp: { op: 'read', path: '/etc/app.conf' },
        },
        {
          resource: { kind: 'ssh', name: 'bastion' },
          action: 'sftp.write',
          text: 'write /tmp/x',
          sftp: { op: 'write', path: '/tmp/x' },
        },
        {
          resource: { kind: 'tool', name: 'bot' },
          action: 'tool.call',
          text: 'lookup {}',
          tool: { name: 'lookup', args: {} },
        },
        deleteOrder,
        { ...selectOrders, sql: { ...selectOrders.sql, reads: [], tables: [] } } as Command,
      ] satisfies Command[]) {
        await session.execute(c, () => null)
      }
      return currentFlow().reads
    })
    expect(reads).toEqual([
      'http:egress',
      'http:egress/api.example.com',
      'kubernetes:prod',
      'kubernetes:prod/secrets',
      'kubernetes:prod/pods/log',
      'ssh:bastion',
      'ssh:bastion//etc/app.conf',
      'tool:bot',
      'tool:bot/lookup',
    ])
    await warden.close()
  })
})

describe('partial facts from a driver or tool', () => {
  const partialPolicy = compilePolicy(`
rules:
  - name: no-secrets-table
    when: '"secrets" in sql.reads || kube.resource == "secrets"'
    effect: deny
  - name: rest
    effect: allow
`)
  const db = { kind: 'postgres', name: 'crm' } as const
  const k8s = { kind: 'kubernetes', name: 'prod' } as const

  it('are completed with empty fields: the command runs once, is audited ok, never crashes after running', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy: partialPolicy, audit })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    const commands: Command[] = [
      { resource: db, action: 'sql.query', text: 'SELECT 1', sql: { text: 'SELECT 1' } as never },
      { resource: db, action: 'sql.query', text: 'SELECT 1', sql: { reads: null } as never },
      { resource: db, action: 'sql.query', text: 'SELECT 1', sql: null as never },
      { resource: k8s, action: 'kube.get', text: 'get pods', kube: { verb: 'get' } as never },
      { resource: k8s, action: 'kube.list', text: 'list', kube: null as never },
    ]
    for (const command of commands) {
      let runs = 0
      await expect(session.execute(command, () => ++runs)).resolves.toBe(1)
      expect(runs).toBe(1)
    }
    expect(audit.records.filter((r) => r.type === 'command').map((r) => r.outcome?.status)).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
    ])
    // SQL with no known reads reads nothing; a kube read of an unknown kind reads the resource
    expect(currentFlow(session).reads).toEqual(['kubernetes:prod'])
    await warden.close()
  })

  it('of the wrong type are denied before running', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy: partialPolicy, audit })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    let ran = false
    const error = await session
      .execute({ resource: db, action: 'sql.query', text: 'x', sql: { reads: 'secrets' } as never }, () => {
        ran = true
      })
      .catch((e: unknown) => e)
    expect(ran).toBe(false)
    expect(error).toBeInstanceOf(WardenError)
    expect(error).toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    expect(audit.records.filter((r) => r.type === 'command').map((r) => r.outcome?.status)).toEqual([
      'denied',
    ])
    await warden.close()
  })
})
