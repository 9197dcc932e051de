// The pg internals named in pg-internals.ts are where the driver expects them, in the installed versions.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { createWarden, type Session } from '@warden/core'
import { memorySink, stubBroker } from '@warden/core/testing'
import { Client } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  checkVersions,
  clientInternals,
  PgClient,
  PgPool,
  PgQuery,
  versions,
} from '../../src/pg/pg-internals.js'
import { PG } from './helpers.js'

const require = createRequire(import.meta.url)
let session: Session
const warden = createWarden({
  policy: compilePolicy('defaults: { effect: allow }'),
  broker: stubBroker({ username: 'postgres' }),
  audit: memorySink(),
})

beforeAll(async () => {
  session = await warden.session({ principal: { id: 'internals', type: 'service' } })
})
afterAll(() => warden.close())

describe('pg internals', () => {
  it('installed versions are in the supported range', () => {
    expect(() => checkVersions()).not.toThrow()
    expect(versions.pg.startsWith('8.')).toBe(true)
    expect(versions.pgPool.startsWith('3.')).toBe(true)
  })

  it('the JavaScript client, Query and pg-pool are the ones pg itself uses', () => {
    const pg = require('pg')
    expect(PgClient).toBe(pg.Client)
    expect(PgQuery).toBe(pg.Query)
    expect(PgPool).toBe(require('pg-pool'))
  })

  it('a client exposes the connection, active query and connection parameters the driver hooks', () => {
    const client = new PgClient({})
    const internals = clientInternals(client)
    expect(typeof internals.connection.query).toBe('function')
    expect(typeof internals.connection.parse).toBe('function')
    expect(internals.connection.parsedStatements).toEqual({})
    expect(internals._getActiveQuery()).toBeNull()
    expect(() => clientInternals({})).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_UNSUPPORTED' }))
  })

  it('the guarded client keeps no password field after connecting', async () => {
    const guarded = new Client(session, { ...PG, database: 'postgres', resource: 'internals' })
    await guarded.connect()
    const g = guarded as unknown as { password: unknown; connectionParameters: { password: unknown } }
    expect(g.password).toBeNull()
    expect(g.connectionParameters.password).toBeNull()
    await guarded.end()
  })

  it('submittables carry the methods the driver wraps', () => {
    const q = new PgQuery('SELECT 1')
    expect(typeof (q as unknown as { handleReadyForQuery: unknown }).handleReadyForQuery).toBe('function')
    expect(typeof (q as unknown as { handleError: unknown }).handleError).toBe('function')
    const Cursor = require('pg-cursor')
    const cursor = new Cursor('SELECT 1')
    expect(typeof cursor.handleReadyForQuery).toBe('function')
    expect(cursor.text).toBe('SELECT 1')
    const QueryStream = require('pg-query-stream')
    expect(new QueryStream('SELECT 2').cursor.text).toBe('SELECT 2')
    const { to } = require('pg-copy-streams')
    const copy = to('COPY t TO STDOUT')
    expect(copy.text).toBe('COPY t TO STDOUT')
    expect(typeof copy.push).toBe('function')
  })

  it('NODE_PG_FORCE_NATIVE cannot swap the guarded client for libpq', () => {
    // In a fresh process with the variable set, require('pg') would load pg-native (not installed);
    // the driver's client still loads and is pg's JavaScript client.
    const script = `
      process.env.NODE_PG_FORCE_NATIVE = '1'
      import('${new URL('../../src/pg/pg-internals.ts', import.meta.url).pathname}').then((m) => {
        const ok = typeof m.PgClient === 'function' && typeof new m.PgClient({}).connection?.query === 'function'
        process.stdout.write(ok ? 'js-client' : 'native')
      }, (e) => { process.stdout.write('error:' + e.message) })`
    const out = execFileSync(
      process.execPath,
      ['--conditions=warden-source', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        env: { ...process.env, NODE_PG_FORCE_NATIVE: '1' },
        cwd: new URL('../../../../', import.meta.url).pathname,
      },
    ).toString()
    expect(out).toBe('js-client')
  })
})
