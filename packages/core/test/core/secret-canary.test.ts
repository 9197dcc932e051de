import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { type Command, createWarden, jsonlSink, type Lease, revealSecret, Secret } from '@warden/core'
import { memorySink, stubBroker } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const policy = compilePolicy('defaults: { effect: allow }\nrules: []')
const cmd: Command = { resource: { kind: 'postgres', name: 'db' }, action: 'sql.query', text: 'SELECT 1' }

describe('secrets never print', () => {
  it('a Secret shows [secret] everywhere and reveals only through revealSecret', () => {
    const canary = `canary-${Math.random()}`
    const s = new Secret(canary)
    expect(String(s)).toBe('[secret]')
    expect(`${s}`).toBe('[secret]')
    expect(`${s}${s}`).toBe('[secret][secret]')
    expect([s, s].join('-')).toBe('[secret]-[secret]')
    expect(JSON.stringify({ s })).toBe('{"s":"[secret]"}')
    expect(inspect(s)).toBe('[secret]')
    expect(inspect({ deep: { s } }, { depth: 10 })).not.toContain(canary)
    expect(new Error(`connect failed with ${s}`).message).not.toContain(canary)
    expect(Object.keys(s)).toEqual([])
    expect(Object.isFrozen(s)).toBe(true)
    expect(revealSecret(s)).toBe(canary)
  })

  it('the canary of a real lease appears in no result, error, inspect output or audit record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-canary-'))
    try {
      const path = join(dir, 'audit.jsonl')
      const broker = stubBroker()
      const mem = memorySink()
      const warden = createWarden({ policy, audit: [mem, jsonlSink(path)], broker })
      const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
      let lease: Lease | undefined
      const result = await session.execute(
        cmd,
        (ctx) => {
          lease = ctx.lease
          return { credential: ctx.lease?.credential, ctx }
        },
        { lease: true },
      )
      const err = await session
        .execute(
          cmd,
          (ctx) => {
            const pw = (ctx.lease!.credential as { password: Secret }).password
            throw new Error(`auth failed for password ${pw}`)
          },
          { lease: true },
        )
        .catch((e: Error) => e)
      await warden.close()
      const views = [
        inspect(result, { depth: 20, showHidden: true }),
        JSON.stringify(result),
        inspect(lease, { depth: 20 }),
        inspect(session, { depth: 20, showHidden: true }),
        inspect(warden, { depth: 20, showHidden: true }),
        String(err),
        inspect(err, { depth: 20 }),
        mem.lines.join('\n'),
        readFileSync(path, 'utf8'),
      ]
      for (const view of views) expect(view).not.toContain(broker.canary)
      expect(mem.lines.join('\n')).toContain('auth failed for password [secret]')
      // the credential is really there for the driver
      expect(revealSecret((lease!.credential as { password: Secret }).password)).toBe(broker.canary)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
