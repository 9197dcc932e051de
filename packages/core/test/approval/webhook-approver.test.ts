import { randomUUID } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import {
  type ApprovalStore,
  redisApprovals,
  Secret,
  type WebhookPayload,
  webhookApprover,
} from '@warden/core'
import { memoryApprovals } from '@warden/core/testing'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { approvalRequest, dba, signed, until } from './fixtures.js'

interface Received {
  headers: IncomingHttpHeaders
  body: WebhookPayload
}
let server: Server
let url: string
let status = 200
const received: Received[] = []
const prefix = `warden-test:${randomUUID()}:`
let redisA: Redis
let redisB: Redis

beforeAll(async () => {
  server = createServer((req, res) => {
    let data = ''
    req.on('data', (d) => {
      data += d
    })
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(data) as WebhookPayload })
      res.statusCode = status
      res.end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  redisA = new Redis({ host: '127.0.0.1', port: 6379 })
  redisB = new Redis({ host: '127.0.0.1', port: 6379 })
})

afterAll(async () => {
  await new Promise((r) => server.close(r))
  const keys = await redisA.keys(`${prefix}*`)
  if (keys.length > 0) await redisA.del(...keys)
  redisA.disconnect()
  redisB.disconnect()
})

const lastFor = (id: string) => until(async () => received.find((r) => r.body.approval.id === id))

describe('webhookApprover', () => {
  it('POSTs the request (Slack-compatible text + JSON) and waits for the decision in the store', async () => {
    status = 200
    const store = memoryApprovals()
    const canary = `canary-${randomUUID()}`
    const approver = webhookApprover({
      url,
      store,
      headers: { authorization: new Secret(`Bearer ${canary}`), 'x-team': 'dba' },
      reviewUrl: 'https://inbox.test/a',
    })
    const req = approvalRequest()
    const outcome = approver.request(req, new AbortController().signal)
    const got = await lastFor(req.id)
    expect(got.headers['content-type']).toBe('application/json')
    expect(got.headers.authorization).toBe(`Bearer ${canary}`)
    expect(got.headers['x-team']).toBe('dba')
    expect(got.body.text).toContain('*Approval needed*')
    expect(got.body.text).toContain('`agent-7`')
    expect(got.body.text).toContain('```DELETE FROM orders WHERE id = $1```')
    expect(got.body.text).toContain('<https://inbox.test/a|Review>')
    expect(got.body.approval).toMatchObject({
      id: req.id,
      fingerprint: req.fingerprint,
      principal: { id: 'agent-7', type: 'agent', groups: ['bots'] },
      resource: { kind: 'postgres', name: 'orders-prod' },
      rule: 'agent-writes',
      expiresAt: req.expiresAt.toISOString(),
      preview: { summary: 'DELETE orders: 1 row', rowsAffected: [1] },
    })
    expect((await store.pending()).map((r) => r.id)).toContain(req.id)
    await store.decide(req.id, { status: 'approved', by: 'alice', ...dba })
    await expect(outcome).resolves.toMatchObject({
      status: 'approved',
      by: 'alice',
      fingerprint: req.fingerprint,
    })
    expect(inspect(approver, { depth: 10, showHidden: true })).not.toContain(canary)
  })

  it('escapes Slack markup in requester-controlled text', async () => {
    status = 200
    const store = memoryApprovals()
    const req = approvalRequest({ command: 'SELECT 1 /* <!channel> & ``` */' })
    const outcome = webhookApprover({ url, store }).request(req, AbortSignal.timeout(60_000))
    const got = await lastFor(req.id)
    expect(got.body.text).not.toContain('<!channel>')
    expect(got.body.text).toContain('&lt;!channel&gt; &amp;')
    expect(got.body.approval.command).toBe(req.command)
    await store.decide(req.id, { status: 'rejected', by: 'bob', ...dba })
    await expect(outcome).resolves.toMatchObject({ status: 'rejected' })
  })

  it('rejects at once and withdraws the request when the webhook fails', async () => {
    status = 500
    const store = memoryApprovals()
    const req = approvalRequest()
    const outcome = await webhookApprover({ url, store }).request(req, new AbortController().signal)
    expect(outcome).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/HTTP 500/) })
    expect(await store.get(req.id)).toBeUndefined()
    status = 200
  })

  it('rejects when the webhook cannot be reached', async () => {
    const store = memoryApprovals()
    const dead = createServer()
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r))
    const port = (dead.address() as AddressInfo).port
    await new Promise((r) => dead.close(r))
    const outcome = await webhookApprover({ url: `http://127.0.0.1:${port}/`, store }).request(
      approvalRequest(),
      new AbortController().signal,
    )
    expect(outcome).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/network error/) })
    expect(await store.pending()).toEqual([])
  })

  it('with redisApprovals: a reviewer in another instance releases the waiter', async () => {
    status = 200
    const storeA: ApprovalStore = redisApprovals({ redis: redisA, prefix, ...signed })
    const storeB = redisApprovals({ redis: redisB, prefix, ...signed })
    const req = approvalRequest()
    const outcome = webhookApprover({ url, store: storeA }).request(req, new AbortController().signal)
    await lastFor(req.id)
    await storeB.decide(req.id, { status: 'approved', by: 'alice', ...dba })
    await expect(outcome).resolves.toMatchObject({ status: 'approved', by: 'alice', id: req.id })
    await storeA.close()
    await storeB.close()
  })

  it('validates options eagerly', () => {
    const store = memoryApprovals()
    expect(() => webhookApprover({ url: 'not a url', store })).toThrow()
    expect(() => webhookApprover({ url: 'ftp://x/', store })).toThrow(/http/)
    expect(() => webhookApprover({ url, store: {} as never })).toThrow(/store/)
    expect(() => webhookApprover({ url, store, headers: { a: 1 as never } })).toThrow(/header "a"/)
  })
})
