// Every node-postgres internal this driver relies on, in one place (STYLE.md §5.5).
// Supported: pg >=8.11 <9, pg-pool >=3.6 <4 (checked by test/pg/internals.test.ts).
// If an upgrade moves one of these, construction fails with ERR_WARDEN_UNSUPPORTED: the driver
// never passes commands through unguarded.
//
// - `pg/lib/client.js` and `pg-pool` are loaded directly, never through `require('pg')`, so
//   NODE_PG_FORCE_NATIVE / `pg.native` (libpq, no JS wire layer) cannot swap the client under us.
// - `client.connection` (pg's Connection): `query(text)` and `parse({text})` are the only ways SQL
//   reaches the wire (tripwire); `emit('rowDescription' | 'dataRow' | 'commandComplete' |
//   'parameterStatus', msg)` delivers every result message before Query, Cursor or QueryStream
//   see it (masking); `stream` is the socket.
// - `client.readyForQuery`: true while nothing is in flight (the read-only mode waits for it).
// - `client._getActiveQuery()`: the submittable whose response is arriving (in order, pipeline too).
// - `client.password` / `client.connectionParameters.password`: pg writes the resolved password
//   back here during authentication; the driver scrubs both after connect.
// - `client.connectionParameters.user`: the startup user, set per lease.
// - submittables (pg.Query, pg-cursor, pg-query-stream, pg-copy-streams) all end with
//   `handleReadyForQuery(con)` or `handleError(err, con)`, and carry their SQL in `text`
//   (pg-query-stream in `cursor.text`).
// - pg-pool reads `options.maxLifetimeSeconds` when each new client has connected
//   (`_afterConnect`), so a per-connection lifetime can be set just before the connect callback.

import type { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { WardenError } from '@warden/policy'
import type pg from 'pg'

const require = createRequire(import.meta.url)

export const PG_RANGE = '>=8.11.0 <9.0.0'
export const PG_POOL_RANGE = '>=3.6.0 <4.0.0'

export interface PgWireConnection extends EventEmitter {
  query(text: string): void
  parse(message: { text: string; name?: string; types?: unknown[] }, more?: boolean): void
  readonly stream: { destroy(error?: Error): void }
  parsedStatements: Record<string, string>
}

/** The parts of a connected pg Client the driver touches. */
export interface PgClientInternals {
  readonly connection: PgWireConnection
  readonly connectionParameters: { user?: string; password?: unknown }
  password: unknown
  user: string
  /** True between a ReadyForQuery and the next query pg sends: nothing is running on the wire. */
  readonly readyForQuery: boolean
  _getActiveQuery(): object | null | undefined
}

/** A pg Submittable, as client.query() accepts it. */
export interface PgSubmittable {
  text?: string
  name?: string
  binary?: boolean
  cursor?: { text?: string }
  submit(connection: PgWireConnection): unknown
  handleError(error: Error, connection?: PgWireConnection): unknown
  handleReadyForQuery(connection?: PgWireConnection): unknown
  push?(chunk: unknown): boolean
}

export interface PgPoolInternals {
  options: { maxLifetimeSeconds?: number }
}

type PgClientClass = typeof pg.Client
type PgQueryClass = typeof pg.Query
type PgPoolClass = typeof pg.Pool

/** pg's JavaScript client, whatever NODE_PG_FORCE_NATIVE says. */
export const PgClient: PgClientClass = require('pg/lib/client.js') as PgClientClass
export const PgQuery: PgQueryClass = require('pg/lib/query.js') as PgQueryClass
export const PgPool: PgPoolClass = require('pg-pool') as PgPoolClass
const pgUtils = require('pg/lib/utils.js') as {
  escapeIdentifier: (v: string) => string
  prepareValue: (v: unknown) => unknown
}
export const escapeIdentifier: (value: string) => string = pgUtils.escapeIdentifier
/** pg's own conversion of a bound value to what goes on the wire (text, or a Buffer for bytea). */
export const prepareValue: (value: unknown) => unknown = pgUtils.prepareValue

export const versions = {
  pg: (require('pg/package.json') as { version: string }).version,
  // pg-pool's exports map hides package.json: read it next to its entry point.
  pgPool: (
    JSON.parse(readFileSync(join(dirname(require.resolve('pg-pool')), 'package.json'), 'utf8')) as {
      version: string
    }
  ).version,
}

function unsupported(what: string): never {
  throw new WardenError(
    'ERR_WARDEN_UNSUPPORTED',
    `@warden/drivers/pg: ${what} (supported: pg ${PG_RANGE}, pg-pool ${PG_POOL_RANGE}; installed pg ${versions.pg}, pg-pool ${versions.pgPool})`,
  )
}

function inRange(version: string, minMajor: number, minMinor: number, maxMajor: number): boolean {
  const [major, minor] = version.split('.').map(Number)
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return false
  return major < maxMajor && (major > minMajor || (major === minMajor && minor >= minMinor))
}

let checked = false
/** Checks the installed versions once per process. */
export function checkVersions(): void {
  if (checked) return
  if (!inRange(versions.pg, 8, 11, 9)) unsupported('unsupported pg version')
  if (!inRange(versions.pgPool, 3, 6, 4)) unsupported('unsupported pg-pool version')
  checked = true
}

/** The internals of a freshly constructed client; throws ERR_WARDEN_UNSUPPORTED if any moved. */
export function clientInternals(client: object): PgClientInternals {
  const c = client as Partial<PgClientInternals>
  const con = c.connection as Partial<PgWireConnection> | undefined
  if (
    con === undefined ||
    typeof con.query !== 'function' ||
    typeof con.parse !== 'function' ||
    typeof con.emit !== 'function' ||
    typeof con.on !== 'function' ||
    typeof c._getActiveQuery !== 'function' ||
    typeof c.connectionParameters !== 'object' ||
    c.connectionParameters === null
  ) {
    unsupported(
      'pg Client internals (connection.query/parse/emit, _getActiveQuery, connectionParameters) not found',
    )
  }
  return c as PgClientInternals
}

/** The SQL text a submittable will send, or undefined when it carries none. */
export function submittableText(query: PgSubmittable): string | undefined {
  if (typeof query.text === 'string') return query.text
  if (typeof query.cursor?.text === 'string') return query.cursor.text
  return undefined
}

export function isSubmittable(value: unknown): value is PgSubmittable {
  return typeof (value as { submit?: unknown } | null)?.submit === 'function'
}
