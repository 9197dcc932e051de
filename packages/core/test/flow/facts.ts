// Request facts for flow tests. Core knows no SQL parser (drivers → core), so these are the shapes
// describePostgres returns, built by hand; the examples' tests run the same rules over the real pg driver.
import type { Command } from '@warden/core'

export function sql(text: string, type: string, reads: string[], writes: string[] = []): Command['sql'] {
  return Object.freeze({
    text,
    statements: [{ type, reads, writes, where: true, functions: [] }],
    types: [type],
    reads,
    writes,
    tables: [...new Set([...reads, ...writes])],
    write: writes.length > 0,
    unbounded: false,
    functions: [],
    flags: [],
    parsed: true,
    error: '',
  })
}

export const db = { kind: 'postgres', name: 'crm' } as const
export const web = { kind: 'http', name: 'egress' } as const

export const selectCustomers: Command = {
  resource: db,
  action: 'sql.query',
  text: 'SELECT id, email FROM customers',
  sql: sql('SELECT id, email FROM customers', 'SELECT', ['customers']),
}
export const selectOrders: Command = {
  resource: db,
  action: 'sql.query',
  text: 'SELECT id, total FROM orders',
  sql: sql('SELECT id, total FROM orders', 'SELECT', ['orders']),
}
export const deleteOrder: Command = {
  resource: db,
  action: 'sql.query',
  text: 'DELETE FROM orders WHERE id = $1',
  sql: sql('DELETE FROM orders WHERE id = $1', 'DELETE', [], ['orders']),
}

export function post(url: string): Command {
  const u = new URL(url)
  return {
    resource: web,
    action: 'http.request',
    text: `POST ${url}`,
    http: Object.freeze({ method: 'POST', url, host: u.hostname, path: u.pathname, query: {}, headers: {} }),
  }
}

/** A promise and its resolver: makes two concurrent chains interleave in a fixed order. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void
  const wait = new Promise<void>((resolve) => {
    open = resolve
  })
  return { wait, open }
}
