import { createHash } from 'node:crypto'
import { inspect } from 'node:util'
import {
  createInboxServer,
  type InboxServer,
  jwtReviewerAuth,
  reviewerTokensAuth,
  sharedSecretAuth,
} from '@warden/cli'
import {
  type ApprovalRequest,
  type ApprovalStore,
  createWarden,
  memorySink,
  redisApprovals,
  type Session,
  type Warden,
} from '@warden/core'
import { compilePolicy } from '@warden/policy'
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sqlCommand } from './fixtures.js'
import { APPROVAL_POLICY, pendingRequest, REDIS_URL, SIGNED, uniquePrefix } from './helpers.js'

const SECRET = 'inbox-test-secret-0123456789'
const prefix = uniquePrefix('inbox-server')
let store: ApprovalStore
let warden: Warden
let agent: Session
let inbox: InboxServer
let base: string
const audit = memorySink()

beforeAll(async () => {
  store = redisApprovals({ redis: REDIS_URL, prefix, ...SIGNED })
  warden = createWarden({ policy: compilePolicy(APPROVAL_POLICY), audit, approvals: store })
  agent = await warden.session({ principal: { id: 'agent-7', type: 'agent' } })
  inbox = createInboxServer({ store, auth: sharedSecretAuth(SECRET) })
  base = await inbox.listen(0)
})
afterAll(async () => {
  await inbox?.close()
  await warden?.close()
  await store?.close()
})

const as = (reviewer: string, secret = SECRET) => ({
  authorization: `Bearer ${secret}`,
  'x-warden-reviewer': reviewer,
})

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(path, base), init)
  return { status: res.status, body: await res.json() }
}

function decide(id: string, headers: Record<string, string>, body: Record<string, unknown>) {
  return api(`/api/requests/${encodeURIComponent(id)}/decision`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

/** Starts a write that the policy holds for approval; resolves once it is pending in the store. */
async function held(text: string) {
  const run = agent.execute(await sqlCommand(text), (context) => {
    context.rows(1)
    return 'ran'
  })
  run.catch(() => {}) // asserted by the caller
  const request = await pendingRequest(store, text)
  return { run, request }
}

describe('approvals inbox server', () => {
  it('serves the page with a strict CSP and no data', async () => {
    const res = await fetch(base)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    const html = await res.text()
    expect(html).toContain('<script src="/inbox.js"')
    expect(html).not.toContain('<script>')
  })

  it('refuses every API call without the secret, with a wrong one, or without a reviewer name', async () => {
    expect((await api('/api/pending')).status).toBe(401)
    expect((await api('/api/pending', { headers: as('alice', 'wrong-secret-0123456789') })).status).toBe(401)
    expect((await api('/api/pending', { headers: { authorization: `Bearer ${SECRET}` } })).status).toBe(401)
    expect((await api('/api/events')).status).toBe(401)
    const who = await api('/api/whoami', { headers: as('alice') })
    expect(who).toEqual({ status: 200, body: { reviewer: 'alice', groups: [], verified: false } })
  })

  it('lists a held request with who, resource, command, facts, rule, reason and expiry', async () => {
    const { run, request } = await held('UPDATE orders SET status = 3 WHERE id = 11')
    const { status, body } = await api('/api/pending', { headers: as('alice') })
    expect(status).toBe(200)
    const listed = body.requests.find((r: { id: string }) => r.id === request.id)
    expect(listed).toMatchObject({
      principal: { id: 'agent-7', type: 'agent' },
      resource: { kind: 'postgres', name: 'orders-prod' },
      action: 'sql.query',
      command: 'UPDATE orders SET status = 3 WHERE id = 11',
      facts: { types: ['UPDATE'], writes: ['orders'] },
      rule: 'agent-writes',
      reason: 'agents need a human for writes',
      approvers: ['dba', 'alice', 'bob', 'carol'],
      fingerprint: request.fingerprint,
    })
    expect(Date.parse(listed.expiresAt)).toBeGreaterThan(Date.parse(listed.requestedAt))
    await decide(request.id, as('alice'), {
      status: 'rejected',
      reason: 'cleanup',
      fingerprint: request.fingerprint,
    })
    await expect(run).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED' })
  })

  it('refuses unsafe or incomplete decisions and lets a reviewer approve once', async () => {
    const { run, request } = await held('UPDATE orders SET status = 4 WHERE id = 12')
    const fingerprint = request.fingerprint
    // A cross-site form can only send form encodings: refused before anything else.
    const form = await fetch(new URL(`/api/requests/${request.id}/decision`, base), {
      method: 'POST',
      headers: { ...as('alice'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'status=approved',
    })
    expect(form.status).toBe(415)
    expect((await decide(request.id, {}, { status: 'approved', fingerprint })).status).toBe(401)
    expect((await decide(request.id, as('alice'), { status: 'maybe', fingerprint })).status).toBe(400)
    expect((await decide(request.id, as('alice'), { status: 'approved' })).body.error).toContain(
      'fingerprint',
    )
    expect((await decide(request.id, as('alice'), { status: 'rejected', fingerprint })).body.error).toContain(
      'reason',
    )
    // The requester cannot approve their own request (any case of the name).
    const own = await decide(request.id, as('Agent-7'), { status: 'approved', fingerprint })
    expect(own).toEqual({ status: 403, body: { error: 'a requester cannot approve their own request' } })
    // A fingerprint other than the one shown is refused by the store.
    const other = await decide(request.id, as('alice'), { status: 'approved', fingerprint: 'sha256:00' })
    expect(other.status).toBe(409)
    expect(other.body.error).toContain('fingerprint mismatch')

    const ok = await decide(request.id, as('alice'), { status: 'approved', reason: 'ticket 42', fingerprint })
    expect(ok).toEqual({ status: 200, body: { id: request.id, status: 'approved', by: 'alice' } })
    await expect(run).resolves.toBe('ran')
    expect(audit.find({ command: 'UPDATE orders SET status = 4 WHERE id = 12' })).toMatchObject({
      approval: { id: request.id, status: 'approved', by: 'alice' },
      outcome: { status: 'ok', rows: 1 },
    })
    // Single use: the decision cannot be made again.
    const again = await decide(request.id, as('bob'), { status: 'approved', fingerprint })
    expect([404, 409]).toContain(again.status)
  })

  it('a decision carries the digest of the request shown: one swapped in the store after display is refused', async () => {
    const { run, request } = await held('UPDATE orders SET status = 5 WHERE id = 13')
    const listed = (await api('/api/pending', { headers: as('alice') })).body.requests.find(
      (r: { id: string }) => r.id === request.id,
    )
    expect(listed.requestDigest).toMatch(/^sha256:[0-9a-f]{64}$/)
    const fingerprint = request.fingerprint
    const stale = await decide(request.id, as('alice'), {
      status: 'approved',
      fingerprint,
      requestDigest: `sha256:${'1'.repeat(64)}`,
    })
    expect(stale.status).toBe(409)
    const bad = await decide(request.id, as('alice'), { status: 'approved', fingerprint, requestDigest: 5 })
    expect(bad.status).toBe(400)
    const ok = await decide(request.id, as('alice'), {
      status: 'approved',
      fingerprint,
      requestDigest: listed.requestDigest,
    })
    expect(ok.status).toBe(200)
    await expect(run).resolves.toBe('ran')
  })

  it('streams the pending list over SSE and drops a request once it is decided', async () => {
    const controller = new AbortController()
    const res = await fetch(new URL('/api/events', base), { headers: as('carol'), signal: controller.signal })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    const nextSnapshot = async (): Promise<{ requests: { id: string }[] }> => {
      for (;;) {
        const end = buffer.indexOf('\n\n')
        if (end >= 0) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          expect(frame.startsWith('event: pending\ndata: ')).toBe(true)
          return JSON.parse(frame.slice('event: pending\ndata: '.length))
        }
        const { value, done } = await reader.read()
        if (done) throw new Error('stream ended')
        buffer += value
      }
    }
    try {
      expect((await nextSnapshot()).requests).toEqual([])
      const { run, request } = await held('UPDATE orders SET status = 5 WHERE id = 13')
      let snapshot = await nextSnapshot()
      while (!snapshot.requests.some((r) => r.id === request.id)) snapshot = await nextSnapshot()
      await decide(request.id, as('carol'), { status: 'approved', fingerprint: request.fingerprint })
      while (snapshot.requests.some((r) => r.id === request.id)) snapshot = await nextSnapshot()
      await expect(run).resolves.toBe('ran')
    } finally {
      controller.abort()
    }
  })
})

/** Reads `event: pending` frames from an open SSE response, whole (for their size) and parsed. */
function frames(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  return async (): Promise<{ raw: string; data: any }> => {
    for (;;) {
      const end = buffer.indexOf('\n\n')
      if (end >= 0) {
        const raw = buffer.slice(0, end + 2)
        buffer = buffer.slice(end + 2)
        return { raw, data: JSON.parse(raw.slice('event: pending\ndata: '.length)) }
      }
      const { value, done } = await reader.read()
      if (done) throw new Error('stream ended')
      buffer += value
    }
  }
}

/** A request opened in the store directly (what any application instance would put there). */
function opened(command: string, extra: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const now = Date.now()
  return {
    id: `req-${Math.random().toString(36).slice(2)}`,
    fingerprint: 'sha256:display-only',
    session: 'sess-1',
    principal: { id: 'agent-7', type: 'agent' },
    resource: { kind: 'postgres', name: 'orders-prod' },
    action: 'sql.query',
    command,
    facts: { types: ['UPDATE'] },
    rule: 'agent-writes',
    reason: 'agents need a human for writes',
    approvers: ['dba', 'alice', 'bob', 'carol'],
    requestedAt: new Date(now),
    expiresAt: new Date(now + 120_000),
    ...extra,
  }
}

describe('bounded frames, bad input, who may decide, progress and history', () => {
  it('a 1 MB command is listed cut (with its length) in a small SSE frame; the full request is fetched on demand', async () => {
    const controller = new AbortController()
    const res = await fetch(new URL('/api/events', base), { headers: as('alice'), signal: controller.signal })
    const next = frames(res)
    const command = `UPDATE orders SET note = '${'x'.repeat(1_000_000)}' WHERE id = 1`
    const request = opened(command, { facts: { blob: 'y'.repeat(50_000) } })
    try {
      await store.open(request)
      let frame = await next()
      while (!frame.data.requests.some((r: { id: string }) => r.id === request.id)) frame = await next()
      // Bounded: not the 1 MB command (and not twice it), however many events re-send it.
      expect(frame.raw.length).toBeLessThan(64 * 1024)
      const listed = frame.data.requests.find((r: { id: string }) => r.id === request.id)
      expect(listed).toMatchObject({ commandLength: command.length, commandLines: 1, facts: null })
      expect(listed.command).toBe(command.slice(0, 4096))
      expect(listed.factsBytes).toBeGreaterThan(50_000)
      const full = await api(`/api/requests/${request.id}`, { headers: as('alice') })
      expect(full.status).toBe(200)
      expect(full.body.request.command).toBe(command)
      expect(full.body.request.facts.blob).toHaveLength(50_000)
      expect(full.body.decide).toEqual({})
      expect((await api(`/api/requests/${request.id}`)).status).toBe(401)
    } finally {
      controller.abort()
      await store.withdraw(request.id)
    }
    expect((await api(`/api/requests/${request.id}`, { headers: as('alice') })).status).toBe(404)
  })

  it('answers 400, not 500, to a malformed % escape or an oversized id', async () => {
    const post = (path: string) =>
      api(path, {
        method: 'POST',
        headers: { ...as('alice'), 'content-type': 'application/json' },
        body: '{"status":"approved","fingerprint":"x"}',
      })
    expect(await post('/api/requests/%E0%A4%A/decision')).toEqual({
      status: 400,
      body: { error: 'malformed percent-escape in the request id' },
    })
    expect((await api('/api/requests/%ZZ', { headers: as('alice') })).status).toBe(400)
    expect((await post(`/api/requests/${'a'.repeat(201)}/decision`)).status).toBe(400)
    expect((await api('/api/requests/a/b', { headers: as('alice') })).status).toBe(404)
    expect((await api('/api/requests/abc', { method: 'DELETE', headers: as('alice') })).status).toBe(405)
  })

  it('tells each reviewer, per request, whether they may approve or reject and why not', async () => {
    const { run, request } = await held('UPDATE orders SET status = 8 WHERE id = 16')
    const decideFor = async (reviewer: string) => {
      const { body } = await api('/api/pending', { headers: as(reviewer) })
      expect(body.requests.some((r: { id: string }) => r.id === request.id)).toBe(true)
      return body.decide[request.id]
    }
    const only = 'only dba, alice, bob, carol may decide this request'
    expect(await decideFor('dave')).toEqual({ approve: only, reject: only })
    // The requester may withdraw (reject) but not approve.
    expect(await decideFor('agent-7')).toEqual({ approve: 'a requester cannot approve their own request' })
    expect(await decideFor('alice')).toEqual({})
    await decide(request.id, as('alice'), {
      status: 'rejected',
      reason: 'not now',
      fingerprint: request.fingerprint,
    })
    await expect(run).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED' })
    // The history says who decided what, when, and why.
    const { body } = await api('/api/pending', { headers: as('bob') })
    expect(body.history[0]).toMatchObject({
      id: request.id,
      status: 'rejected',
      by: 'alice',
      reason: 'not now',
      resource: 'postgres:orders-prod',
      principal: 'agent-7',
      command: 'UPDATE orders SET status = 8 WHERE id = 16',
    })
    expect(Date.parse(body.history[0].at)).toBeGreaterThan(Date.now() - 60_000)
    expect(body.history.filter((h: { id: string }) => h.id === request.id)).toHaveLength(1)
  })

  it('minApprovals: the first approval is progress ("1 of 2 approvals (alice)"), the second releases the command', async () => {
    const twoPerson = createWarden({
      policy: compilePolicy(`
defaults: { effect: deny }
rules:
  - name: two-person
    when: 'sql.write'
    effect: approve
    approval: { approvers: [alice, bob, carol], minApprovals: 2, timeout: 2m }
`),
      audit: memorySink(),
      // A store of its own on the same prefix (the inbox sees its requests): close() closes it.
      approvals: redisApprovals({ redis: REDIS_URL, prefix, ...SIGNED }),
    })
    try {
      const session = await twoPerson.session({ principal: { id: 'agent-9', type: 'agent' } })
      const text = 'UPDATE orders SET status = 9 WHERE id = 17'
      const run = session.execute(await sqlCommand(text), () => 'ran')
      run.catch(() => {})
      const request = await pendingRequest(store, text)
      const listed = async (reviewer: string) => {
        const { body } = await api('/api/pending', { headers: as(reviewer) })
        return {
          view: body.requests.find((r: { id: string }) => r.id === request.id),
          why: body.decide[request.id],
        }
      }
      expect((await listed('bob')).view.progress).toBe('0 of 2 approvals')
      const first = await decide(request.id, as('alice'), {
        status: 'approved',
        fingerprint: request.fingerprint,
      })
      expect(first).toEqual({
        status: 200,
        body: {
          id: request.id,
          status: 'approved',
          by: 'alice',
          pending: true,
          progress: '1 of 2 approvals (alice)',
        },
      })
      expect((await listed('bob')).view.progress).toBe('1 of 2 approvals (alice)')
      expect((await listed('alice')).why).toEqual({
        approve: 'you already approved this request; 1 of 2 approvals (alice)',
        reject: 'you already approved this request; 1 of 2 approvals (alice)',
      })
      const second = await decide(request.id, as('bob'), {
        status: 'approved',
        fingerprint: request.fingerprint,
      })
      expect(second).toEqual({ status: 200, body: { id: request.id, status: 'approved', by: 'bob' } })
      await expect(run).resolves.toBe('ran')
      const { body } = await api('/api/pending', { headers: as('carol') })
      expect(
        body.history.filter((h: { id: string }) => h.id === request.id).map((h: any) => [h.status, h.by]),
      ).toEqual([
        ['approved', 'bob'],
        ['approval', 'alice'],
      ])
    } finally {
      await twoPerson.close()
    }
  })
})

describe('approvals inbox with JWT reviewers', () => {
  const issuer = 'https://idp.test'
  const audience = 'warden-inbox'
  let jwtInbox: InboxServer
  let jwtBase: string
  let sign: (claims: Record<string, unknown>, opts?: { issuer?: string }) => Promise<string>

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256')
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }
    sign = (claims, opts = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(opts.issuer ?? issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey)
    jwtInbox = createInboxServer({
      store,
      auth: jwtReviewerAuth({ jwks: createLocalJWKSet({ keys: [jwk] }), issuer, audience }),
    })
    jwtBase = await jwtInbox.listen(0)
  })
  afterAll(() => jwtInbox?.close())

  const post = (id: string, token: string, body: Record<string, unknown>) =>
    fetch(new URL(`/api/requests/${id}/decision`, jwtBase), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))

  it('verifies the bearer token and enforces the rule approvers by group', async () => {
    const { run, request } = await held('UPDATE orders SET status = 6 WHERE id = 14')
    const body = { status: 'approved', fingerprint: request.fingerprint }
    const forged = await post(
      request.id,
      await sign({ sub: 'mallory', groups: ['dba'] }, { issuer: 'https://evil.test' }),
      body,
    )
    expect(forged.status).toBe(401)
    expect(forged.body.error).toContain('token rejected')
    const outsider = await post(request.id, await sign({ sub: 'dave', groups: ['dev'] }), body)
    expect(outsider).toEqual({
      status: 403,
      body: { error: 'only dba, alice, bob, carol may decide this request' },
    })
    const dba = await post(request.id, await sign({ sub: 'erin', groups: ['dba'] }), body)
    expect(dba).toEqual({ status: 200, body: { id: request.id, status: 'approved', by: 'erin' } })
    await expect(run).resolves.toBe('ran')
  })

  it('rejects construction without issuer/audience and a short shared secret', () => {
    expect(() => jwtReviewerAuth({ jwks: 'https://idp.test/jwks', issuer: '', audience })).toThrow(/issuer/)
    expect(() => sharedSecretAuth('short')).toThrow(/at least 12/)
  })
})

describe('approvals inbox with a token per reviewer', () => {
  const sha = (token: string) => createHash('sha256').update(token).digest('hex')
  const TOKENS = {
    erin: 'wrt_erin-token-0123456789',
    agent: 'wrt_agent-token-0123456789',
    dev: 'wrt_dev-token-01234',
  }
  let tokenInbox: InboxServer
  let tokenBase: string

  beforeAll(async () => {
    tokenInbox = createInboxServer({
      store,
      auth: reviewerTokensAuth([
        { id: 'erin', tokenSha256: sha(TOKENS.erin), groups: ['dba'] },
        // The requester holds a reviewer token too (and the dba group): still not for their own request.
        { id: 'agent-7', tokenSha256: sha(TOKENS.agent), groups: ['dba'] },
        { id: 'dave', tokenSha256: sha(TOKENS.dev), groups: ['dev'] },
      ]),
    })
    tokenBase = await tokenInbox.listen(0)
  })
  afterAll(() => tokenInbox?.close())

  const post = (id: string, headers: Record<string, string>, body: Record<string, unknown>) =>
    fetch(new URL(`/api/requests/${id}/decision`, tokenBase), {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))

  it('the token names the reviewer: a typed-in name changes nothing, approvers are enforced', async () => {
    const whoami = await fetch(new URL('/api/whoami', tokenBase), {
      headers: { authorization: `Bearer ${TOKENS.erin}`, 'x-warden-reviewer': 'someone-else' },
    }).then((r) => r.json())
    expect(whoami).toMatchObject({ reviewer: 'erin' })
    const { run, request } = await held('UPDATE orders SET status = 7 WHERE id = 15')
    const body = { status: 'approved', fingerprint: request.fingerprint }
    const unknown = await post(request.id, { authorization: 'Bearer wrt_not-a-reviewer-000000' }, body)
    expect(unknown).toEqual({ status: 401, body: { error: 'unknown reviewer token' } })
    // The requester's own token, whatever name it types: refused.
    const own = await post(
      request.id,
      { authorization: `Bearer ${TOKENS.agent}`, 'x-warden-reviewer': 'erin' },
      body,
    )
    expect(own).toEqual({ status: 403, body: { error: 'a requester cannot approve their own request' } })
    const outsider = await post(request.id, { authorization: `Bearer ${TOKENS.dev}` }, body)
    expect(outsider).toEqual({
      status: 403,
      body: { error: 'only dba, alice, bob, carol may decide this request' },
    })
    const dba = await post(request.id, { authorization: `Bearer ${TOKENS.erin}` }, body)
    expect(dba).toEqual({ status: 200, body: { id: request.id, status: 'approved', by: 'erin' } })
    await expect(run).resolves.toBe('ran')
  })

  it('refuses a bad reviewers list at construction, and keeps no token', () => {
    const good = { id: 'a', tokenSha256: sha('wrt_a-token-0123456789') }
    expect(() => reviewerTokensAuth([])).toThrow(/at least one/)
    expect(() => reviewerTokensAuth([{ id: 'bad name', tokenSha256: good.tokenSha256 }])).toThrow(/"id"/)
    expect(() => reviewerTokensAuth([{ id: 'a', tokenSha256: 'abc' }])).toThrow(/64-hex-digit/)
    expect(() => reviewerTokensAuth([{ id: 'a', tokenSha256: sha('') }])).toThrow(/64-hex-digit/)
    expect(() => reviewerTokensAuth([good, { ...good, id: 'A' }])).toThrow(/listed twice/)
    expect(() => reviewerTokensAuth([good, { ...good, id: 'b' }])).toThrow(/same token/)
    expect(() => reviewerTokensAuth([{ ...good, groups: [''] }])).toThrow(/groups/)
    const auth = reviewerTokensAuth([good])
    expect(inspect(auth, { depth: 10, showHidden: true })).not.toContain('wrt_a-token')
  })
})

describe('shared-secret hygiene', () => {
  it('keeps only a digest of the shared secret: it is in no inspectable object or error', async () => {
    const canary = 'canary-inbox-secret-7f3a9c1e'
    const auth = sharedSecretAuth(canary)
    const server = createInboxServer({ store, auth })
    expect(inspect(auth, { depth: 10, showHidden: true })).not.toContain(canary)
    expect(inspect(server, { depth: 4, showHidden: true })).not.toContain(canary)
    expect(JSON.stringify(auth)).not.toContain(canary)
    const wrong = await auth
      .authenticate({ authorization: 'Bearer canary-inbox-secret-7f3a9c1X' })
      .catch((e: Error) => e)
    expect(String((wrong as Error).message)).not.toContain('canary')
    await server.close()
  })
})
