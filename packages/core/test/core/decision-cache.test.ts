// The policy's decision cache as the pipeline uses it: the same frozen command from sessions of
// different principals, through flow changes, and with claims nested in a token-like principal.
import { type Command, createWarden, WardenDeniedError } from '@warden/core'
import { memorySink, stubBroker } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const policy = compilePolicy(`
rules:
  - name: team-a-reads
    when: 'principal.claims.org.team == "a" && "aud-1" in principal.claims.aud && !("pii" in flow.tags)'
    effect: allow
masks:
  - name: pii
    columns: [email]
    strategy: redact
    tags: [pii]
`)

const deepFreeze = <T>(v: T): T => {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x)
    Object.freeze(v)
  }
  return v
}

// One command object, deep-frozen like a describer's cached facts: the same identity every time.
const command: Command = deepFreeze({
  resource: { kind: 'postgres', name: 'orders' },
  action: 'sql.query',
  text: 'SELECT email FROM customers',
  sql: { text: 'SELECT email FROM customers', types: ['SELECT'], reads: ['customers'], parsed: true },
}) as Command

const open = () => {
  const audit = memorySink()
  const warden = createWarden({ policy, broker: stubBroker(), audit })
  return { warden, audit }
}

describe('decision cache in the pipeline', () => {
  it('turns on for this policy, and principals from different sessions never share a decision', async () => {
    expect(policy.decisionCacheEnabled).toBe(true)
    const { warden } = open()
    const claims = (team: string) => ({ org: { team }, aud: ['aud-1'] })
    const a = await warden.session({ principal: { id: 'svc-a', type: 'service', claims: claims('a') } })
    const b = await warden.session({ principal: { id: 'svc-b', type: 'service', claims: claims('b') } })
    // The principals' nested claims are frozen copies (the cache's precondition) ...
    expect(Object.isFrozen((a.principal.claims as { org: object }).org)).toBe(true)
    expect(Object.isFrozen(a.principal.claims.aud)).toBe(true)
    for (let i = 0; i < 3; i++) {
      await expect(a.execute(command, () => 'rows')).resolves.toBe('rows')
      await expect(b.execute(command, () => 'rows')).rejects.toBeInstanceOf(WardenDeniedError)
    }
    // ... and copies: changing the caller's object after the session opened changes nothing.
    const input = claims('b')
    const c = await warden.session({ principal: { id: 'svc-c', type: 'service', claims: input } })
    input.org.team = 'a'
    await expect(c.execute(command, () => 'rows')).rejects.toBeInstanceOf(WardenDeniedError)
    await warden.close()
  })

  it('a flow change after the first decision changes the decision served', async () => {
    const { warden, audit } = open()
    const s = await warden.session({
      principal: { id: 'svc-a', type: 'service', claims: { org: { team: 'a' }, aud: ['aud-1'] } },
    })
    await expect(
      s.execute(command, (ctx) => {
        // the masker masking a column tags the chain `pii`
        ctx.masker?.plan([{ name: 'email' }]).applyArray(['x@example.com'])
        return 'first'
      }),
    ).resolves.toBe('first')
    await expect(s.execute(command, () => 'second')).rejects.toBeInstanceOf(WardenDeniedError)
    const decisions = audit.records.filter((r) => r.type === 'command').map((r) => r.decision?.effect)
    expect(decisions).toEqual(['allow', 'deny'])
    await warden.close()
  })
})
