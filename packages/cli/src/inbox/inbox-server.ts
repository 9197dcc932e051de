import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  ApprovalDecisionError,
  type ApprovalEvent,
  type ApprovalRecord,
  type ApprovalStore,
  type DecisionRefusal,
} from '@warden/core'
import { WardenTypeError } from '@warden/policy'
import { INBOX_CSS, INBOX_HTML, INBOX_JS } from './inbox-page.js'
import { DecisionHistory, decideView, json, progressText, requestView } from './request-view.js'
import { InboxAuthError, type Reviewer, type ReviewerAuth, refusalReason } from './reviewer-auth.js'

/** What the inbox needs from an approval store: `redisApprovals` (or `memoryApprovals` in tests) from @warden/core. */
export type InboxStore = Pick<ApprovalStore, 'pending' | 'get' | 'decide' | 'subscribe'>

// How each refusal of the store reads over HTTP.
const REFUSAL_STATUS = {
  unknown: 404,
  decided: 409,
  expired: 409,
  'self-approval': 403,
  'not-approver': 403,
  duplicate: 409,
  fingerprint: 409,
  invalid: 400,
} as const satisfies Record<DecisionRefusal, number>

export interface InboxServerOptions {
  readonly store: InboxStore
  readonly auth: ReviewerAuth
  /** One line per decision and per store error (default: nothing). */
  readonly log?: (line: string) => void
  /** How often open pages get a fresh list even without store events (default 15 s). */
  readonly refreshMs?: number
  /** Recent decisions kept (in memory) for the page's history (default 50). */
  readonly historySize?: number
}

export interface InboxServer {
  readonly server: Server
  /** Starts listening; resolves to the page's URL. */
  listen(port: number, host?: string): Promise<string>
  close(): Promise<void>
}

const MAX_BODY = 16 * 1024
/** JSON bytes of the requests in one snapshot: past it, the rest are counted, not sent. */
const SNAPSHOT_BYTES = 512 * 1024
/** Request ids are at most 200 characters (checkRequest in @warden/core). */
const MAX_ID = 200
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
}

const sendJson = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value))

/** The id in a request path: a malformed `%` escape or an oversized id is the client's error (400). */
function requestId(segment: string): string {
  let id: string
  try {
    id = decodeURIComponent(segment)
  } catch {
    throw new HttpError(400, 'malformed percent-escape in the request id')
  }
  if (id === '' || id.length > MAX_ID) throw new HttpError(400, `a request id has 1 to ${MAX_ID} characters`)
  return id
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  // Only JSON bodies: a cross-site HTML form cannot send this content type without a preflight.
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    throw new HttpError(415, 'send application/json')
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new HttpError(413, 'body too large')
    chunks.push(chunk as Buffer)
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object')
    return value as Record<string, unknown>
  } catch {
    throw new HttpError(400, 'body is not a JSON object')
  }
}

/**
 * The approvals inbox: a static page plus a small JSON API on an approval store.
 * Every API call is authenticated by a header the page sets (bearer token or shared
 * secret), never by a cookie, so another site cannot make a reviewer's browser decide.
 * Open pages get the pending list over Server-Sent Events, re-sent whenever the store
 * reports a change from any instance, so decided requests disappear everywhere.
 */
export function createInboxServer(options: InboxServerOptions): InboxServer {
  const { store, auth } = options
  if (
    typeof store?.pending !== 'function' ||
    typeof store.decide !== 'function' ||
    typeof store.subscribe !== 'function'
  ) {
    throw new WardenTypeError('createInboxServer: "store" needs pending(), get(), decide() and subscribe()')
  }
  if (typeof auth?.authenticate !== 'function')
    throw new WardenTypeError('createInboxServer: "auth" needs authenticate()')
  const log = options.log ?? (() => {})
  const refreshMs = options.refreshMs ?? 15_000
  // Open event streams, each with the reviewer it was opened by (what they may decide differs).
  const clients = new Map<ServerResponse, Reviewer>()
  const history = new DecisionHistory(options.historySize ?? 50)

  /**
   * The pending list as every page gets it: bounded requests (soonest expiry first, as many as fit
   * in SNAPSHOT_BYTES; `total` counts all), the recent decisions, and the records (for decideView).
   */
  async function snapshot(): Promise<{ shared: string; records: ApprovalRecord[] }> {
    const all = await store.pending()
    const records: ApprovalRecord[] = []
    const views: string[] = []
    let bytes = 0
    for (const record of all) {
      history.seen(record.id, record.request)
      const view = json(requestView(record))
      if (bytes + view.length > SNAPSHOT_BYTES) break
      bytes += view.length + 1
      views.push(view)
      records.push(record)
    }
    const shared = `"now":${json(new Date())},"total":${all.length},"requests":[${views.join(',')}],"history":${json(history.list())}}`
    return { shared, records }
  }
  // Per reviewer: the shared part is serialized once, the "decide" part (why not) per page.
  const body = (reviewer: Reviewer, snap: { shared: string; records: ApprovalRecord[] }) => {
    const decide: Record<string, ReturnType<typeof decideView>> = {}
    for (const record of snap.records) decide[record.id] = decideView(reviewer, record)
    return `{"decide":${json(decide)},${snap.shared}`
  }
  const frame = (data: string) => `event: pending\ndata: ${data}\n\n`

  let broadcasting = false
  let again = false
  // Coalesces bursts of store events into one read of the pending list.
  async function broadcast(): Promise<void> {
    if (clients.size === 0) return
    if (broadcasting) {
      again = true
      return
    }
    broadcasting = true
    try {
      do {
        again = false
        const snap = await snapshot()
        for (const [client, reviewer] of clients) client.write(frame(body(reviewer, snap)))
      } while (again)
    } catch (error) {
      log(`approval store error: ${(error as Error).message}`)
    } finally {
      broadcasting = false
    }
  }
  function onEvent(event: ApprovalEvent): void {
    if (event.type === 'pending') history.seen(event.record.id, event.record.request)
    else if (event.type === 'decided')
      history.add({ id: event.id, status: event.status, by: event.by, reason: event.reason })
    else if (event.type === 'progress') history.add({ id: event.id, status: 'approval', by: event.by })
    else if (event.type === 'removed' && event.status !== 'used') history.removed(event.id, event.status)
    void broadcast()
  }
  const unsubscribe = store.subscribe(onEvent)
  const timer = setInterval(() => void broadcast(), refreshMs)
  timer.unref()

  async function authenticate(req: IncomingMessage): Promise<Reviewer> {
    try {
      return await auth.authenticate(req.headers)
    } catch (error) {
      if (error instanceof InboxAuthError) throw new HttpError(401, error.message)
      throw error
    }
  }

  async function events(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reviewer = await authenticate(req)
    const first = frame(body(reviewer, await snapshot()))
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    })
    res.write(first)
    clients.set(res, reviewer)
    req.on('close', () => clients.delete(res))
  }

  async function decision(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const reviewer = await authenticate(req)
    const body = await readJson(req)
    const status = body.status
    if (status !== 'approved' && status !== 'rejected')
      throw new HttpError(400, 'status must be "approved" or "rejected"')
    const reason = typeof body.reason === 'string' ? body.reason.trim() : ''
    // The fingerprint of the operation the reviewer was shown: the store refuses the decision if it differs.
    const fingerprint = body.fingerprint
    if (typeof fingerprint !== 'string' || fingerprint === '')
      throw new HttpError(400, 'give the fingerprint of the request you reviewed')
    // The digest of the whole request shown (bound values, preview): refused by the store if it differs.
    const requestDigest = body.requestDigest
    if (requestDigest !== undefined && typeof requestDigest !== 'string')
      throw new HttpError(400, 'requestDigest must be a string')
    if (reason.length > 1000) throw new HttpError(400, 'reason is longer than 1000 characters')
    if (status === 'rejected' && reason === '') throw new HttpError(400, 'give a reason when rejecting')
    const record = await store.get(id)
    if (record === undefined)
      throw new HttpError(404, 'no such approval request (withdrawn, expired or used)')
    if (record.status !== 'pending')
      throw new HttpError(
        409,
        `this request was already ${record.status}${record.by ? ` by ${record.by}` : ''}`,
      )
    const request = record.request
    const refusal = refusalReason(reviewer, request, status)
    if (refusal !== undefined) throw new HttpError(403, refusal)
    let decided: ApprovalRecord
    try {
      // Atomic in the store: still pending, not expired, same fingerprint, not the requester approving.
      decided = await store.decide(id, {
        status,
        by: reviewer.id,
        groups: reviewer.groups,
        fingerprint,
        ...(requestDigest ? { requestDigest } : {}),
        ...(reason ? { reason } : {}),
      })
    } catch (error) {
      if (error instanceof ApprovalDecisionError)
        throw new HttpError(REFUSAL_STATUS[error.refusal], error.message)
      throw error
    }
    log(
      `${status} ${id} (${request.resource.kind}:${request.resource.name}, ${request.principal.id}) by ${reviewer.id}`,
    )
    // One approval of several (minApprovals): the request stays pending; say how far it got.
    const partial = decided.status === 'pending'
    history.add({ id, status: partial ? 'approval' : status, by: reviewer.id, ...(reason ? { reason } : {}) })
    sendJson(res, 200, {
      id,
      status,
      by: reviewer.id,
      // Read again: a store may return the record as it was before this approval was added.
      ...(partial ? { pending: true, progress: progressText((await store.get(id)) ?? decided) } : {}),
    })
    void broadcast()
  }

  /** The whole request (the list sends a bounded view): for "show all", asked for one at a time. */
  async function fullRequest(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const reviewer = await authenticate(req)
    const record = await store.get(id)
    if (record === undefined || record.status !== 'pending')
      throw new HttpError(404, 'no such pending approval request (decided, withdrawn, expired or used)')
    return send(
      res,
      200,
      'application/json; charset=utf-8',
      json({ request: record.request, decide: decideView(reviewer, record) }),
    )
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://inbox.invalid')
    } catch {
      throw new HttpError(400, 'malformed request URL')
    }
    const route = `${req.method} ${url.pathname}`
    switch (route) {
      case 'GET /':
        return send(res, 200, 'text/html; charset=utf-8', INBOX_HTML)
      case 'GET /inbox.js':
        return send(res, 200, 'text/javascript; charset=utf-8', INBOX_JS)
      case 'GET /inbox.css':
        return send(res, 200, 'text/css; charset=utf-8', INBOX_CSS)
      case 'GET /api/config':
        return sendJson(res, 200, { mode: auth.mode })
      case 'GET /api/whoami': {
        const reviewer = await authenticate(req)
        return sendJson(res, 200, {
          reviewer: reviewer.id,
          groups: reviewer.groups,
          verified: reviewer.verified,
        })
      }
      case 'GET /api/pending': {
        const reviewer = await authenticate(req)
        return send(res, 200, 'application/json; charset=utf-8', body(reviewer, await snapshot()))
      }
      case 'GET /api/events':
        return events(req, res)
    }
    const match = /^\/api\/requests\/([^/]+)(\/decision)?$/.exec(url.pathname)
    if (match !== null) {
      const id = requestId(match[1]!)
      if (match[2] === undefined) {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET')
        return fullRequest(req, res, id)
      }
      if (req.method !== 'POST') throw new HttpError(405, 'use POST')
      return decision(req, res, id)
    }
    throw new HttpError(404, 'not found')
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.end()
        return
      }
      if (error instanceof HttpError) return sendJson(res, error.status, { error: error.message })
      log(`inbox error: ${(error as Error).message}`)
      sendJson(res, 500, { error: 'the approval store failed; see the server log' })
    })
  })

  return {
    server,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          const address = server.address() as AddressInfo
          const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
          resolve(`http://${shown}:${address.port}/`)
        })
      })
    },
    async close() {
      clearInterval(timer)
      unsubscribe()
      for (const client of clients.keys()) client.end()
      clients.clear()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}
