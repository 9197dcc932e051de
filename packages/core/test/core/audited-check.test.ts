// session.check(command, {audit: true}): a decision that releases data on its own is recorded,
// and one that cannot be recorded is not released.
import { type AuditSink, type Command, createWarden } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const policy = compilePolicy(`
rules:
  - name: reveal-public
    when: 'kube.verb == "reveal" && kube.name == "public"'
    effect: allow
`)
const reveal = (name: string): Command => ({
  resource: { kind: 'kubernetes', name: 'prod' },
  action: 'kube.reveal',
  text: `reveal secrets team/${name}`,
  kube: {
    verb: 'reveal',
    group: '',
    version: 'v1',
    resource: 'secrets',
    subresource: '',
    namespace: 'team',
    name,
    command: [],
    container: '',
  },
})

describe('session.check with {audit: true}', () => {
  it('records allowed and denied decisions; plain check records nothing', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal: { id: 'ops', type: 'service' } })
    expect(session.check(reveal('public')).effect).toBe('allow')
    expect(audit.records.filter((r) => r.action === 'kube.reveal')).toHaveLength(0)
    expect(session.check(reveal('public'), { audit: true }).effect).toBe('allow')
    expect(session.check(reveal('db'), { audit: true }).effect).toBe('deny')
    const records = audit.records.filter((r) => r.action === 'kube.reveal')
    expect(records.map((r) => [r.command, r.decision?.effect, r.outcome?.status])).toEqual([
      ['reveal secrets team/public', 'allow', 'ok'],
      ['reveal secrets team/db', 'deny', 'denied'],
    ])
    await warden.close()
  })

  it('denies when the decision cannot be audited', async () => {
    let failing = false
    const sink: AuditSink = {
      write() {
        if (failing) throw new Error('disk gone')
        return true
      },
      async flush() {},
      async close() {},
    }
    const warden = createWarden({ policy, audit: sink })
    const session = await warden.session({ principal: { id: 'ops', type: 'service' } })
    failing = true
    const decision = session.check(reveal('public'), { audit: true })
    expect(decision.effect).toBe('deny')
    expect(decision.reason).toContain('could not be audited')
    await warden.close().catch(() => {})
  })
})
