// Sessions the application drops without closing are freed, and their leases released; leases are
// keyed by everything a policy or broker can tell apart (groups and claims too, not only the id).
import v8 from 'node:v8'
import vm from 'node:vm'
import { type Command, createWarden } from '@warden/core'
import { memorySink, stubBroker } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const policy = compilePolicy('defaults: { effect: allow }\nrules: []')
const command: Command = { resource: { kind: 'postgres', name: 'db' }, action: 'sql.query', text: 'SELECT 1' }

describe('session lifetime', () => {
  it('a session dropped without close() is collected and its lease revoked', async () => {
    const broker = stubBroker()
    const warden = createWarden({ policy, audit: memorySink(), broker, signals: false })
    const open = async (i: number) => {
      const session = await warden.session({ principal: { id: `svc-${i}`, type: 'service' } })
      await session.execute(command, () => 1, { lease: true })
    }
    for (let i = 0; i < 200; i++) await open(i)
    expect(broker.issued).toBe(200)
    // Finalizers run after a collection, on a later turn: collect until they have (bounded).
    for (let round = 0; round < 50 && broker.revoked < 200; round++) {
      gc()
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(broker.revoked).toBe(200)
    await warden.close()
  })

  it('warden.close() still closes the sessions that are held', async () => {
    const broker = stubBroker()
    const audit = memorySink()
    const warden = createWarden({ policy, audit, broker, signals: false })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    await session.execute(command, () => 1, { lease: true })
    await warden.close()
    expect(session.closed).toBe(true)
    expect(broker.revoked).toBe(1)
    expect(audit.records.map((r) => r.type)).toContain('session.close')
  })

  it('two sessions of one principal id with other groups or claims get their own leases', async () => {
    const broker = stubBroker()
    const warden = createWarden({ policy, audit: memorySink(), broker, signals: false })
    const a = await warden.session({ principal: { id: 'svc', type: 'service', groups: ['readers'] } })
    const b = await warden.session({ principal: { id: 'svc', type: 'service', groups: ['writers'] } })
    const c = await warden.session({
      principal: { id: 'svc', type: 'service', groups: ['readers'], claims: { tenant: 'x' } },
    })
    const same = await warden.session({ principal: { id: 'svc', type: 'service', groups: ['readers'] } })
    const ids = await Promise.all([a, b, c, same].map((s) => s.lease(command.resource).then((l) => l.id)))
    expect(new Set(ids.slice(0, 3)).size).toBe(3)
    expect(ids[3]).toBe(ids[0])
    expect(broker.issued).toBe(3)
    await warden.close()
  })
})
