// Runnable: node --conditions=warden-source --import tsx packages/core/examples/quickstart.ts
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Command, createWarden, jsonlSink, revealSecret, verifyChain } from '@warden/core'
import { autoApprove, stubBroker, testIdentity } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'

const policy = compilePolicy(`
rules:
  - name: readers-select
    resources: ["postgres:orders-*"]
    when: '"readers" in principal.groups && !sql.write'
    effect: allow
  - name: agent-writes
    when: 'principal.type == "agent" && sql.write'
    effect: approve
    approval: { approvers: [dba-oncall], timeout: 5m }
masks:
  - name: customer-pii
    columns: ["email"]
    strategy: partial
`)

const auditFile = join(mkdtempSync(join(tmpdir(), 'warden-quickstart-')), 'audit.jsonl')
const idp = await testIdentity() // in production: jwtIdentity({ jwksUrl, issuer, audience })
const warden = createWarden({
  policy,
  audit: jsonlSink(auditFile, { fsync: 'batch' }),
  broker: stubBroker(), // in production: httpBroker({ url }) or staticBroker({ credentials })
  approvals: autoApprove({ by: 'alice' }), // in production: redisApprovals / webhookApprover / consoleApprover
  identity: idp.identity,
})

// A session per principal, from a verified token.
const session = await warden.session({ token: await idp.token({ sub: 'svc-reports', groups: ['readers'] }) })

// What a driver does for each command: describe it, then execute through the pipeline.
const text = 'SELECT id, email FROM orders'
const select: Command = {
  resource: { kind: 'postgres', name: 'orders-prod' },
  action: 'sql.query',
  text,
  sql: {
    text,
    statements: [{ type: 'SELECT', reads: ['orders'], writes: [], where: true, functions: [] }],
    types: ['SELECT'],
    reads: ['orders'],
    writes: [],
    tables: ['orders'],
    write: false,
    unbounded: false,
    functions: [],
    flags: [],
    parsed: true,
    error: '',
  },
}
const rows = await session.execute(
  select,
  async (ctx) => {
    // The driver unwraps the leased credential right where the client library needs it.
    const credential = ctx.lease?.credential
    if (credential?.type === 'password') void revealSecret(credential.password) // → pg.Client({ password })
    const result = [{ id: 1, email: 'ann@example.com' }] // the real query would run here
    const plan = ctx.masker?.plan([{ name: 'id' }, { name: 'email' }])
    for (const row of result) plan?.applyObject(row)
    ctx.rows(result.length)
    return result
  },
  { lease: true },
)
console.log(rows) // [ { id: 1, email: '…@example.com' } ] (masked)

// Denied commands throw WardenDeniedError and are audited.
const drop: Command = {
  ...select,
  text: 'DROP TABLE orders',
  sql: { ...select.sql!, types: ['DROP'], write: true },
}
await session.execute(drop, () => 'never runs').catch((err) => console.log(err.code, err.rule)) // ERR_WARDEN_DENIED default

await warden.close() // closes sessions, revokes leases, flushes audit
console.log(await verifyChain(auditFile)) // { ok: true, count: 5, head: { seq: 5, hash: 'sha256:…' } }
