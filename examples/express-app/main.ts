// An Express service whose database access goes through one guarded pg pool, each request as its own
// caller (a verified bearer token ⇒ a Warden session). Offline:
//   node --conditions=warden-source --import tsx examples/express-app/main.ts          runs a few requests
//   node --conditions=warden-source --import tsx examples/express-app/main.ts --serve  keeps serving; prints tokens
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startEmbeddedPostgres } from '@warden/cli'
import { type AuditRecord, createWarden, memorySink, staticBroker } from '@warden/core'
import { testIdentity } from '@warden/core/testing'
import { Pool } from '@warden/drivers/pg'
import { loadPolicy } from '@warden/policy'
import { createApp } from './app.js'

const here = dirname(fileURLToPath(import.meta.url))

const SAMPLE_DATA = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, phone text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), total numeric(10,2) NOT NULL, status text NOT NULL);
INSERT INTO customers VALUES
  (1, 'Ada Lovelace', 'ada.lovelace@analytical.example.net', '+1 415 555 0101'),
  (2, 'Grace Hopper', 'grace.hopper@navy.example.org', '+1 415 555 0102');
INSERT INTO orders VALUES (101, 1, 250.00, 'paid'), (102, 2, 75.00, 'paid');
`

export interface ExpressExample {
  readonly url: string
  /** Bearer tokens of three callers, minted by the stand-in identity provider. */
  readonly tokens: { readonly support: string; readonly privacy: string; readonly viewer: string }
  readonly records: readonly AuditRecord[]
  stop(): Promise<void>
}

export async function startExpressExample(): Promise<ExpressExample> {
  // stand-in for your identity provider (OIDC): in production, jwtIdentity({ jwksUrl, issuer, audience })
  const idp = await testIdentity({ issuer: 'https://login.example.test', audience: 'shop-api' })
  const db = await startEmbeddedPostgres()
  await db.exec(SAMPLE_DATA)
  const audit = memorySink()
  const warden = createWarden({
    policy: await loadPolicy(join(here, 'policy.yaml')),
    identity: idp.identity,
    broker: staticBroker({
      credentials: { 'postgres:shop': { type: 'password', username: 'postgres', password: 'postgres' } },
    }),
    audit,
  })
  // one pool for the whole service; it keeps connections per principal
  const pool = new Pool(warden, {
    resource: 'shop',
    host: db.host,
    port: db.port,
    database: 'postgres',
    max: 2,
  })
  const server: Server = createServer(createApp(warden, pool))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const person = (sub: string, groups: string[]) => idp.token({ sub, type: 'user', groups, expiresIn: 3600 })
  return {
    url: `http://127.0.0.1:${port}`,
    tokens: {
      support: await person('sam@example.com', ['support']),
      privacy: await person('pat@example.com', ['support', 'pii-readers']),
      viewer: await person('vic@example.com', ['viewers']),
    },
    records: audit.records,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await warden.close()
      await pool.end().catch(() => undefined)
      await db.stop()
    },
  }
}

async function demo(): Promise<void> {
  const app = await startExpressExample()
  try {
    const call = async (who: keyof ExpressExample['tokens'], method: string, path: string) => {
      const res = await fetch(`${app.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${app.tokens[who]}` },
      })
      console.log(
        `${who.padEnd(7)} ${method.padEnd(6)} ${path.padEnd(22)} → ${res.status} ${await res.text()}`,
      )
    }
    await call('support', 'GET', '/customers')
    await call('privacy', 'GET', '/customers')
    await call('viewer', 'POST', '/orders/101/cancel')
    await call('support', 'POST', '/orders/101/cancel')
    await call('support', 'DELETE', '/customers/2')
    if (process.argv.includes('--serve')) {
      console.log(
        `\nserving on ${app.url}; try:\n  curl -H 'authorization: Bearer ${app.tokens.support}' ${app.url}/customers`,
      )
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()))
    }
  } finally {
    await app.stop()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  demo().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
