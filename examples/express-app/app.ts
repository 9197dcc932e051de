// The web service: an Express app. One middleware opens a Warden session for the caller's verified
// token and runs the rest of the request inside session.run, so the one guarded pool runs every
// query as that caller: their policy, their masks, their pooled connections (a connection is never
// lent to another principal). Warden's refusals become HTTP statuses in the error handler.
import { type Warden, WardenError } from '@warden/core'
import type { Pool } from '@warden/drivers/pg'
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express'

// Warden's refusals, as HTTP statuses (exhaustive over the codes a request can meet here).
const STATUS: Partial<Record<string, number>> = {
  ERR_WARDEN_TOKEN_INVALID: 401,
  ERR_WARDEN_DENIED: 403,
  ERR_WARDEN_APPROVAL_REJECTED: 403,
  ERR_WARDEN_APPROVAL_EXPIRED: 403,
}

/** One Warden session per request, ambient for every handler after this middleware. */
export function wardenSession(warden: Warden): RequestHandler {
  return async (req, res, next) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (token === undefined) {
      res.status(401).json({ error: 'ERR_WARDEN_TOKEN_INVALID', message: 'a bearer token is required' })
      return
    }
    let session: Awaited<ReturnType<Warden['session']>>
    try {
      // the verified caller is the principal of every query below; an invalid token is audited and refused
      session = await warden.session({ token })
    } catch (err) {
      next(err)
      return
    }
    res.on('close', () => void session.close())
    session.run(next)
  }
}

export function createApp(warden: Warden, pool: Pool): Express {
  const app = express()
  app.use(wardenSession(warden))

  app.get('/customers', async (_req, res) => {
    res.json((await pool.query('SELECT id, name, email, phone FROM customers ORDER BY id')).rows)
  })
  app.get('/customers/:id/orders', async (req, res) => {
    const { rows } = await pool.query(
      'SELECT id, total, status FROM orders WHERE customer_id = $1 ORDER BY id',
      [Number(req.params.id)],
    )
    res.json(rows)
  })
  app.post('/orders/:id/cancel', async (req, res) => {
    const { rowCount } = await pool.query("UPDATE orders SET status = 'cancelled' WHERE id = $1", [
      Number(req.params.id),
    ])
    res.json({ cancelled: rowCount === 1 })
  })
  app.delete('/customers/:id', async (req, res) => {
    await pool.query('DELETE FROM customers WHERE id = $1', [Number(req.params.id)])
    res.json({ deleted: true })
  })
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' })
  })
  app.use(refusals)
  return app
}

/** Express 5 hands rejected handlers here: Warden's refusals get their status, anything else is a 500. */
const refusals: ErrorRequestHandler = (err, _req, res, _next) => {
  if (err instanceof WardenError && STATUS[err.code] !== undefined) {
    const { rule, reason } = err as WardenError & { rule?: string; reason?: string }
    res.status(STATUS[err.code] as number).json({ error: err.code, rule, reason, message: err.message })
    return
  }
  res.status(500).json({ error: 'internal', message: (err as Error).message })
}
