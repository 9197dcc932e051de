// The guarded pg Client: every query shape is described, then run through session.execute, then
// handed to pg. Credentials come from session.lease() per physical connection.

import type {
  ApprovalPreview,
  Command,
  ExecuteContext,
  Lease,
  Masker,
  Session,
  SessionSource,
} from '@warden/core'
import { revealSecret } from '@warden/core'
import type { SqlFacts } from '@warden/policy'
import { WardenDeniedError, WardenError } from '@warden/policy'
import { parseSync } from 'libpg-query'
import type pg from 'pg'
import { describePostgres, loadPostgresParser } from './describe.js'
import { type CopyFormat, copyMasker } from './internal/copy-masker.js'
import { scrubError } from './internal/scrub-error.js'
import { QueryState, WireGuard } from './internal/wire-guard.js'
import {
  checkVersions,
  clientInternals,
  escapeIdentifier,
  isSubmittable,
  PgClient,
  type PgClientInternals,
  PgQuery,
  type PgSubmittable,
  submittableText,
} from './pg-internals.js'

/** Computes an approval preview ("approve the effect") for a query held for approval. */
export type PgPreviewHook = (query: {
  readonly text: string
  readonly values: readonly unknown[] | undefined
  readonly sql: SqlFacts
}) => Promise<ApprovalPreview | undefined>

/** pg's ClientConfig plus the resource policies match on. Credentials come from the broker, never from here. */
export interface ClientConfig extends Omit<pg.ClientConfig, 'password' | 'user'> {
  /** Resource name (policies match `postgres:<resource>`). */
  readonly resource: string
  readonly labels?: Readonly<Record<string, string>>
  /** Lease scope passed to the broker (default ''). */
  readonly scope?: string
  /** Optional approval preview for commands a rule holds for approval. */
  readonly preview?: PgPreviewHook
}

/** Pool hooks into a pooled client (internal). */
export interface ClientBinding {
  /** The session whose lease a new physical connection takes. */
  session(): Session
  /** Called synchronously right before the connect callback, with the connection's lease. */
  connected(lease: Lease): void
}

type Callback = (error: Error | null, result?: unknown) => void

const CATALOG_SQL = `SELECT c.oid::int8 AS oid, n.nspname, c.relname, a.attnum, a.attname
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'`

let bindClient: (client: Client, binding: ClientBinding) => void
let runApproved: (
  client: Client,
  context: ExecuteContext,
  query: PgSubmittable,
  text: string,
) => Promise<number>

/** Internal: what Pool uses to bind its clients and run already-decided commands on them. */
export const clientHooks = {
  bind: (client: Client, binding: ClientBinding) => bindClient(client, binding),
  run: (client: Client, context: ExecuteContext, query: PgSubmittable, text: string) =>
    runApproved(client, context, query, text),
}

/**
 * A guarded `pg.Client`: `new Client(session, {resource, host, database, ...})`. Mirrors pg's API;
 * every query passes Warden's pipeline, rows are masked before anyone sees them, and the
 * connection authenticates with a lease from the broker.
 */
export class Client extends PgClient {
  readonly #source: SessionSource
  readonly #resource: Command['resource']
  readonly #scope: string
  readonly #preview: PgPreviewHook | undefined
  readonly #internals: PgClientInternals
  readonly #guard: WireGuard
  #binding: ClientBinding | undefined
  #busy = false
  readonly #waiting: (() => void)[] = []
  #leaseExpiresAt: Date | undefined

  static {
    bindClient = (client, binding) => {
      client.#binding = binding
    }
    runApproved = (client, context, query, text) =>
      client.#run(
        query,
        text,
        context,
        () => {},
        () => {},
        undefined,
      )
  }

  constructor(source: SessionSource, config: ClientConfig) {
    if (typeof (source as SessionSource | undefined)?.current !== 'function') {
      throw new TypeError(
        'Client: the first argument must be a Warden session or the Warden (something with current())',
      )
    }
    if (typeof config !== 'object' || config === null)
      throw new TypeError('Client: config must be an object with "resource"')
    if (typeof config.resource !== 'string' || config.resource === '')
      throw new TypeError(
        'Client: config.resource must name the database (policies match postgres:<resource>)',
      )
    if ('password' in config && (config as { password?: unknown }).password !== undefined) {
      throw new TypeError(
        'Client: "password" is not accepted; credentials come from the broker (createWarden({broker}))',
      )
    }
    if (config.preview !== undefined && typeof config.preview !== 'function')
      throw new TypeError('Client: "preview" must be a function')
    checkVersions()
    const { resource, labels, scope, preview, ...rest } = config
    super({ ...(rest as pg.ClientConfig), password: undefined })
    this.#source = source
    this.#resource = Object.freeze({
      kind: 'postgres' as const,
      name: resource,
      labels: labels ? Object.freeze({ ...labels }) : undefined,
    })
    this.#scope = scope ?? ''
    this.#preview = preview
    this.#internals = clientInternals(this)
    // A password from a connection string or PGPASSWORD never reaches the server: the lease's does.
    this.#internals.password = null
    this.#internals.connectionParameters.password = null
    this.#guard = new WireGuard(this.#internals)
    // Load the parser now, so the first query does not wait for it.
    loadPostgresParser().catch(() => {})
  }

  /** When this connection's credential expires (set once connected). */
  get leaseExpiresAt(): Date | undefined {
    return this.#leaseExpiresAt
  }

  override connect(): Promise<this>
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void
  override connect(callback?: (err: any, client?: any) => void): Promise<this> | undefined {
    const done = this.#connect()
    if (typeof callback === 'function') {
      done.then(
        (lease) => {
          this.#binding?.connected(lease)
          callback(null, this)
        },
        (err: Error) => callback(err),
      )
      return undefined
    }
    return done.then((lease) => {
      this.#binding?.connected(lease)
      return this
    })
  }

  async #connect(): Promise<Lease> {
    const session = this.#binding ? this.#binding.session() : this.#source.current()
    const lease = await session.lease(this.#resource, this.#scope)
    const credential = lease.credential
    if (credential.type !== 'password') {
      throw new WardenError(
        'ERR_WARDEN_BROKER',
        `postgres:${this.#resource.name} needs a password credential from the broker, got "${credential.type}"`,
      )
    }
    const internals = this.#internals
    internals.user = credential.username
    internals.connectionParameters.user = credential.username
    // pg awaits this during authentication (cleartext, MD5 or SCRAM), once per physical connection.
    const secret = credential.password
    internals.password = () => revealSecret(secret)
    try {
      await new Promise<void>((resolve, reject) => {
        super.connect((err: Error | null) => (err ? reject(err) : resolve()))
      })
    } finally {
      // pg writes the resolved password back onto the client: leave nothing behind.
      internals.password = null
      internals.connectionParameters.password = null
    }
    if (this.#guard.unsafe !== '') {
      await this.end().catch(() => {})
      throw new WardenDeniedError('warden:lexer', this.#guard.unsafe)
    }
    this.#leaseExpiresAt = lease.expiresAt
    return lease
  }

  // One implementation for pg's seven call shapes and every Submittable.
  override query(config: any, values?: any, callback?: any): any {
    if (config === null || config === undefined)
      throw new TypeError('Client was passed a null or undefined query')
    const cb: Callback | undefined = typeof values === 'function' ? values : callback
    const vals: unknown[] | undefined = typeof values === 'function' ? undefined : values
    if (cb !== undefined && typeof cb !== 'function') throw new TypeError('callback is not a function')
    let query: PgSubmittable
    let result: unknown
    let done: ((err: unknown) => void) | undefined
    if (isSubmittable(config)) {
      query = config
      const q = query as { callback?: unknown }
      if (cb !== undefined && !q.callback) q.callback = cb
      result = config
    } else {
      let settle: Callback = () => {}
      if (cb === undefined) {
        result = new Promise((resolve, reject) => {
          settle = (err, res) => (err ? reject(err) : resolve(res))
        })
      }
      // pg fills `outcome`; the caller hears back only after the pipeline has audited the command.
      let outcome: { err?: Error; res?: unknown } = {}
      const made = new PgQuery(
        config,
        vals as unknown[],
        ((err: Error | undefined, res: unknown) => {
          outcome = { err, res }
        }) as never,
      )
      if (typeof config === 'object' && config.query_timeout)
        (made as { query_timeout?: unknown }).query_timeout = config.query_timeout
      query = made as unknown as PgSubmittable
      const reply: Callback = cb ?? settle
      done = (err) => {
        const error = (err as Error | null) ?? outcome.err ?? null
        try {
          reply(error, error ? undefined : outcome.res)
        } catch (thrown) {
          process.nextTick(() => {
            throw thrown
          })
        }
      }
    }
    const start = () => this.#start(query, vals ?? (config as { values?: unknown[] }).values, done)
    if (this.#busy) this.#waiting.push(start)
    else start()
    return result
  }

  /** Describe → execute → submit, for one query. Submission order equals call order. */
  #start(
    query: PgSubmittable,
    values: readonly unknown[] | undefined,
    done: ((err: unknown) => void) | undefined,
  ): void {
    this.#busy = true
    let released = false
    const release = () => {
      if (released) return
      released = true
      this.#busy = false
      while (!this.#busy && this.#waiting.length > 0) (this.#waiting.shift() as () => void)()
    }
    let submitted = false
    const fail = (err: unknown) => {
      release()
      if (done !== undefined) done(err)
      else if (!submitted) deliver(query, err, this.#internals)
    }
    const succeed = () => {
      release()
      done?.(null)
    }
    try {
      const session = this.#source.current()
      if (this.#guard.unsafe !== '') throw new WardenDeniedError('warden:lexer', this.#guard.unsafe)
      const text = this.#textOf(query)
      const described = describePostgres(text)
      const go = (facts: SqlFacts) => {
        const preview = this.#preview
        const command: Command = {
          resource: this.#resource,
          action: 'sql.query',
          text,
          sql: facts,
          preview: preview ? () => preview({ text, values, sql: facts }) : undefined,
        }
        session
          .execute(command, (context) =>
            this.#run(
              query,
              text,
              context,
              () => {
                submitted = true
              },
              release,
              facts,
            ),
          )
          .then(succeed, fail)
      }
      if (described instanceof Promise) described.then(go, fail)
      else go(described)
    } catch (err) {
      fail(err)
    }
  }

  #textOf(query: PgSubmittable): string {
    const text = submittableText(query)
    if (text !== undefined) return text
    // A named statement re-run without its text: the text this connection prepared under that name.
    if (typeof query.name === 'string') {
      const prepared = this.#internals.connection.parsedStatements?.[query.name]
      if (typeof prepared === 'string') return prepared
    }
    throw new WardenDeniedError('warden:describe', 'the query has no SQL text Warden can classify')
  }

  /** Runs an approved command: set up masking, submit to pg, settle when pg is done with it. */
  async #run(
    query: PgSubmittable,
    text: string,
    context: ExecuteContext,
    submitted: () => void,
    release: () => void,
    facts: SqlFacts | undefined,
  ): Promise<number> {
    const masker = context.masker
    if (masker !== null) {
      if (query.binary === true || (this as unknown as { binary?: boolean }).binary === true) {
        throw new WardenError(
          'ERR_WARDEN_UNSUPPORTED',
          'binary results cannot be masked; run this query without binary: true',
        )
      }
      if (!this.#guard.catalogLoaded || this.#guard.catalogStale) await this.#loadCatalog()
      const sql = facts ?? (await describePostgres(text))
      if (sql.types.includes('COPY')) await this.#maskCopy(query, text, masker)
    }
    const state = new QueryState(masker)
    const guard = this.#guard
    const internals = this.#internals
    return new Promise<number>((resolve, reject) => {
      const handleError = query.handleError
      const handleReady = query.handleReadyForQuery
      let finished = false
      const finish = () => {
        if (finished) return false
        finished = true
        guard.done(text)
        guard.untrack(state)
        context.rows(state.rows)
        return true
      }
      query.handleError = function (this: PgSubmittable, err: Error, con?: unknown) {
        const scrubbed = scrubError(err, masker)
        if (finish()) reject(scrubbed)
        return handleError.call(this, scrubbed, con as never)
      }
      query.handleReadyForQuery = function (this: PgSubmittable, con?: unknown) {
        if (finish()) resolve(state.rows)
        return handleReady.call(this, con as never)
      }
      guard.track(query, state)
      guard.approve(text)
      submitted()
      try {
        super.query(query as never)
      } catch (err) {
        if (finish()) reject(err)
        deliver(query, err, internals)
      }
      release()
    })
  }

  /** Reads table OIDs and column names once per connection (again after a table appears). */
  async #loadCatalog(): Promise<void> {
    const result = (await this.#internalQuery(CATALOG_SQL)) as pg.QueryResult<{
      oid: string
      nspname: string
      relname: string
      attnum: number
      attname: string
    }>
    const catalog = this.#guard.catalog
    catalog.clear()
    for (const row of result.rows) {
      const oid = Number(row.oid)
      let info = catalog.get(oid)
      if (info === undefined) {
        info = { table: `${row.nspname}.${row.relname}`, columns: new Map() }
        catalog.set(oid, info)
      }
      ;(info.columns as Map<number, string>).set(row.attnum, row.attname)
    }
    this.#guard.catalogLoaded = true
    this.#guard.catalogStale = false
  }

  /** Metadata queries the driver itself needs (not user commands): approved for the tripwire, not audited. */
  #internalQuery(text: string): Promise<pg.QueryResult> {
    const guard = this.#guard
    guard.approve(text)
    return new Promise<pg.QueryResult>((resolve, reject) => {
      const query = new PgQuery(text, undefined, ((err: Error, res: pg.QueryResult) => {
        guard.done(text)
        if (err) reject(err)
        else resolve(res)
      }) as never)
      super.query(query)
    })
  }

  /** COPY ... TO STDOUT under masks: mask the stream's rows, or refuse when they cannot be. */
  async #maskCopy(query: PgSubmittable, text: string, masker: Masker): Promise<void> {
    const stmts =
      (parseSync(text) as unknown as { stmts?: { stmt: Record<string, Record<string, unknown>> }[] }).stmts ??
      []
    const copy = stmts.length === 1 ? stmts[0]?.stmt.CopyStmt : undefined
    const refuse = (why: string): never => {
      throw new WardenError('ERR_WARDEN_UNSUPPORTED', `COPY output under masking: ${why}`)
    }
    if (copy === undefined) return refuse('a COPY must be the only statement of its query')
    if (copy.is_from === true) return // COPY FROM sends data; nothing comes back to mask
    if (copy.is_program === true || typeof copy.filename === 'string') return // server-side target: no rows come back
    const relation = copy.relation as { relname: string; schemaname?: string } | undefined
    if (relation === undefined)
      return refuse('COPY (query) TO STDOUT cannot be masked; use COPY table TO STDOUT or a SELECT')
    if (typeof query.push !== 'function') return refuse('use pg-copy-streams to read COPY output')
    let format: CopyFormat = 'text'
    let header = false
    for (const option of (copy.options as
      | { DefElem: { defname: string; arg?: Record<string, { sval?: string; boolval?: boolean }> } }[]
      | undefined) ?? []) {
      const { defname, arg } = option.DefElem
      const value = arg?.String?.sval ?? (arg?.Boolean ? String(arg.Boolean.boolval === true) : undefined)
      if (defname === 'format') {
        if (value !== 'text' && value !== 'csv')
          return refuse(`format ${value} cannot be masked (text or csv)`)
        format = value
      } else if (defname === 'header') {
        header = value === undefined || !['false', 'off', '0'].includes(value)
      } else if (defname !== 'force_quote' && defname !== 'freeze') {
        return refuse(`option ${defname} cannot be masked (default delimiter, quote, escape and null only)`)
      }
    }
    // The output columns, with their table provenance, from a zero-row SELECT of the same columns.
    const attlist = ((copy.attlist as { String: { sval: string } }[] | undefined) ?? []).map((a) =>
      escapeIdentifier(a.String.sval),
    )
    const table = relation.schemaname
      ? `${escapeIdentifier(relation.schemaname)}.${escapeIdentifier(relation.relname)}`
      : escapeIdentifier(relation.relname)
    const probe = await this.#internalQuery(
      `SELECT ${attlist.length > 0 ? attlist.join(', ') : '*'} FROM ${table} LIMIT 0`,
    )
    const columns = probe.fields.map((f) => this.#guard.column(f as never))
    const mask = copyMasker(masker.plan(columns), format, header)
    const push = (query.push as (chunk: unknown) => boolean).bind(query)
    query.push = (chunk: unknown) => {
      let ok = true
      for (const out of mask(chunk === null ? null : (chunk as Buffer))) ok = push(out)
      return chunk === null ? push(null) : ok
    }
  }
}

/** Hands an error to a submittable that pg never ran (denied, or failed before submission). */
function deliver(query: PgSubmittable, err: unknown, internals: PgClientInternals): void {
  const error = err instanceof Error ? err : new Error(String(err))
  process.nextTick(() => {
    try {
      query.handleError(error, internals.connection)
    } catch {
      // A submittable whose error handler throws must not take the process down.
    }
  })
}
