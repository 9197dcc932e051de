// The web service: node:http with a small router (the same shape as an Express app; see README).
// Each request opens a Warden session for the caller's verified token and runs its handler inside
// session.run, so the one guarded pool runs every query as that caller: their policy, their masks,
// their pooled connections (a connection is never lent to another principal).
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { type Warden, WardenError } from '@warden/core'
import type { Pool } from '@warden/drivers/pg'

type Handler = (pool: Pool, params: Record<string, string>) => Promise<unknown>

const routes: { method: string; pattern: RegExp; handler: Handler }[] = [
  {
    method: 'GET',
    pattern: /^\/customers$/,
    handler: async (pool) =>
      (await pool.query('SELECT id, name, email, phone FROM customers ORDER BY id')).rows,
  },
  {
    method: 'GET',
    pattern: /^\/customers\/(?<id>\d+)\/orders$/,
    handler: async (pool, { id }) =>
      (
        await pool.query('SELECT id, total, status FROM orders WHERE customer_id = $1 ORDER BY id', [
          Number(id),
        ])
      ).rows,
  },
  {
    method: 'POST',
    pattern: /^\/orders\/(?<id>\d+)\/cancel$/,
    handler: async (pool, { id }) => {
      const { rowCount } = await pool.query("UPDATE orders SET status = 'cancelled' WHERE id = $1", [
        Number(id),
      ])
      return { cancelled: rowCount === 1 }
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/customers\/(?<id>\d+)$/,
    handler: async (pool, { id }) => {
      await pool.query('DELETE FROM customers WHERE id = $1', [Number(id)])
      return { deleted: true }
    },
  },
]

// Warden's refusals, as HTTP statuses (exhaustive over the codes a request can meet here).
const STATUS: Partial<Record<string, number>> = {
  ERR_WARDEN_TOKEN_INVALID: 401,
  ERR_WARDEN_DENIED: 403,
  ERR_WARDEN_APPROVAL_REJECTED: 403,
  ERR_WARDEN_APPROVAL_EXPIRED: 403,
}

export function createApp(warden: Warden, pool: Pool): RequestListener {
  return (req, res) => {
    handle(warden, pool, req, res).catch((err) =>
      send(res, 500, { error: 'internal', message: (err as Error).message }),
    )
  }
}

async function handle(warden: Warden, pool: Pool, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname
  let match: { handler: Handler; params: Record<string, string> } | undefined
  for (const r of routes) {
    const m = r.method === req.method ? r.pattern.exec(path) : null
    if (m) match = { handler: r.handler, params: { ...m.groups } }
  }
  if (match === undefined) return send(res, 404, { error: 'not found' })
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
  if (token === undefined)
    return send(res, 401, { error: 'ERR_WARDEN_TOKEN_INVALID', message: 'a bearer token is required' })
  try {
    // one session per request: the verified caller is the principal of every query below
    const session = await warden.session({ token })
    try {
      const body = await session.run(() => match.handler(pool, match.params))
      send(res, 200, body)
    } finally {
      await session.close()
    }
  } catch (err) {
    if (!(err instanceof WardenError) || STATUS[err.code] === undefined) throw err
    const { rule, reason } = err as WardenError & { rule?: string; reason?: string }
    send(res, STATUS[err.code] as number, { error: err.code, rule, reason, message: err.message })
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}
