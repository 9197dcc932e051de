// A secret typed into a held command (matched by the decision's detector masks) is masked in what
// leaves the process for approvers — the Redis store, hence the inbox — as it is in the audit
// record; the approval is still bound to the exact text, and the exact text is what runs.
import { createWarden, generateCheckpointKeys, redisApprovals } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { until } from './fixtures.js'

const prefix = `warden-test:masked-command:${process.pid}:${Date.now()}:`
const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
})

const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE'
const policy = compilePolicy(`
rules:
  - name: agent-shell
    effect: approve
    approval: { approvers: [ops], timeout: 20s }
masks:
  - name: cloud-keys
    detectors: [aws_access_key]
    strategy: redact
`)

describe('a held command with a secret in its text', () => {
  it('is stored masked for approvers, approved on the masked text, and runs with the exact text', async () => {
    const keys = generateCheckpointKeys()
    const store = redisApprovals({
      redis: redis.duplicate(),
      prefix,
      pollMs: 20,
      signingKey: keys.privateKey,
      trustedKeys: [keys.publicKey],
    })
    const audit = memorySink()
    const warden = createWarden({ policy, audit, approvals: store })
    const session = await warden.session({ principal: { id: 'agent-7', type: 'agent' } })
    const text = `aws s3 ls --access-key ${AWS_KEY}`
    let ran: string | undefined
    const result = session.execute(
      { resource: { kind: 'ssh', name: 'web-1' }, action: 'ssh.exec', text },
      () => {
        ran = text
        return 'ok'
      },
    )
    const record = await until(async () => (await store.pending())[0])
    // Nothing in Redis holds the key: not the request, not any other field.
    const stored = await redis.hgetall(`${prefix}req:${record.request.id}`)
    expect(JSON.stringify(stored)).not.toContain(AWS_KEY)
    expect(record.request).toMatchObject({
      command: 'aws s3 ls --access-key [redacted]',
      commandMasked: true,
    })
    // The store accepts a decision on the masked request (it cannot re-fingerprint masked text).
    await store.decide(record.request.id, { status: 'approved', by: 'alice', groups: ['ops'] })
    await expect(result).resolves.toBe('ok')
    expect(ran).toBe(text)
    expect(audit.lines.join('\n')).not.toContain(AWS_KEY)
    await warden.close()
  })
})
