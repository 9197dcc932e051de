// The guarded pg Pool. One pg-pool per principal (a pooled connection authenticates with one
// principal's lease and is never lent to another), each connection retired before its lease ends.
// pool.query decides (and waits for approval) before it takes a connection, so a command held for
// a human never holds a pooled connection.
import { EventEmitter } from 'node:events'
import type { Command, Lease, PreviewContext, Session, SessionSource } from '@warden/core'
import type { SqlFacts } from '@warden/policy'
import { WardenError, WardenTypeError } from '@warden/policy'
import type pg from 'pg'
import { Client, type ClientConfig, clientHooks, expectedCounts } from './client.js'
import { checkDescribeOptions, describePostgres, loadPostgresParser } from './describe.js'
import { bindValues } from './internal/bind-values.js'
import {
  checkVersions,
  isSubmittable,
  PgPool,
  type PgPoolInternals,
  PgQuery,
  type PgSubmittable,
} from './pg-internals.js'
import { type DryRun, isPlan, planPreview } from './preview.js'

export interface PoolConfig extends Omit<pg.PoolConfig, 'password' | 'user' | 'Client'>, ClientConfig {
  /**
   * Retire a connection this long before its lease expires (default: a fifth of the lease's
   * remaining lifetime, at most 30 s), so no query runs on a credential that is about to end.
   */
  readonly leaseMarginMs?: number
}

type Callback = (error: Error | null, result?: unknown) => void

interface Inner {
  readonly pool: pg.Pool
  session: Session
}

const FORWARDED = ['connect', 'acquire', 'release', 'remove'] as const

/**
 * A guarded `pg.Pool`: `new Pool(session, {resource, host, database, max, ...})`. `pool.query` and
 * `pool.connect()` mirror pg-pool; every query passes Warden's pipeline.
 */
export class Pool extends EventEmitter {
  readonly #source: SessionSource
  readonly #config: PoolConfig
  readonly #resource: Command['resource']
  readonly #inner = new Map<string, Inner>()
  readonly #margin: number | undefined
  #ending = false

  constructor(source: SessionSource, config: PoolConfig) {
    super()
    if (typeof (source as SessionSource | undefined)?.current !== 'function') {
      throw new WardenTypeError(
        'Pool: the first argument must be a Warden session or the Warden (something with current())',
      )
    }
    if (typeof config !== 'object' || config === null)
      throw new WardenTypeError('Pool: config must be an object with "resource"')
    if (typeof config.resource !== 'string' || config.resource === '')
      throw new WardenTypeError(
        'Pool: config.resource must name the database (policies match postgres:<resource>)',
      )
    if ('password' in config && (config as { password?: unknown }).password !== undefined) {
      throw new WardenTypeError(
        'Pool: "password" is not accepted; credentials come from the broker (createWarden({broker}))',
      )
    }
    if (config.preview !== undefined && config.preview !== false && typeof config.preview !== 'function')
      throw new WardenTypeError('Pool: "preview" must be false or a function')
    if ('Client' in config)
      throw new WardenTypeError('Pool: "Client" is not accepted; the pool makes guarded clients itself')
    checkDescribeOptions('Pool', config.describe)
    if (
      config.leaseMarginMs !== undefined &&
      !(Number.isFinite(config.leaseMarginMs) && config.leaseMarginMs >= 0)
    ) {
      throw new WardenTypeError('Pool: "leaseMarginMs" must be a non-negative number')
    }
    checkVersions()
    this.#source = source
    this.#config = Object.freeze({ ...config })
    this.#margin = config.leaseMarginMs
    this.#resource = Object.freeze({
      kind: 'postgres' as const,
      name: config.resource,
      labels: config.labels ? Object.freeze({ ...config.labels }) : undefined,
    })
    loadPostgresParser().catch(() => {})
  }

  get totalCount(): number {
    return this.#sum((p) => p.totalCount)
  }
  get idleCount(): number {
    return this.#sum((p) => p.idleCount)
  }
  get waitingCount(): number {
    return this.#sum((p) => p.waitingCount)
  }
  get ending(): boolean {
    return this.#ending
  }

  #sum(f: (p: pg.Pool) => number): number {
    let n = 0
    for (const inner of this.#inner.values()) n += f(inner.pool)
    return n
  }

  /** The pg-pool of the current session's principal (made on first use). */
  #poolFor(session: Session): Inner {
    const p = session.principal
    const key = `${p.issuer}\u0000${p.id}`
    let inner = this.#inner.get(key)
    if (inner === undefined) {
      const { leaseMarginMs: _margin, ...rest } = this.#config
      const source = this.#source
      const userMax = this.#config.maxLifetimeSeconds ?? 0
      const margin = this.#margin
      const state: { inner?: Inner } = {}
      class PooledClient extends Client {
        constructor(options: ClientConfig) {
          super(source, options)
          clientHooks.bind(this, {
            session: () => (state.inner as Inner).session,
            connected: (lease: Lease) => {
              // pg-pool reads maxLifetimeSeconds right after this callback (pg-internals.ts).
              const options = (pool as unknown as PgPoolInternals).options
              options.maxLifetimeSeconds = lifetimeSeconds(lease, userMax, margin)
            },
          })
        }
      }
      const pool = new PgPool({
        ...(rest as pg.PoolConfig),
        Client: PooledClient as unknown as typeof pg.Client,
      })
      inner = { pool, session }
      state.inner = inner
      for (const event of FORWARDED) pool.on(event, (...args: unknown[]) => this.emit(event, ...args))
      // An idle connection can die when its lease is revoked (the role is dropped): pg-pool already
      // removed it; report it only if someone listens, never as an unhandled 'error'.
      pool.on('error', (err: Error, client: unknown) => {
        if (this.listenerCount('error') > 0) this.emit('error', err, client)
      })
      this.#inner.set(key, inner)
    } else {
      inner.session = session // the newest session of this principal leases new connections
    }
    return inner
  }

  connect(): Promise<pg.PoolClient & Client>
  connect(
    callback: (
      err: Error | undefined,
      client: (pg.PoolClient & Client) | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): void
  connect(
    callback?: (
      err: Error | undefined,
      client: (pg.PoolClient & Client) | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): unknown {
    let inner: Inner
    try {
      if (this.#ending) throw new Error('Cannot use a pool after calling end on the pool')
      inner = this.#poolFor(this.#source.current())
    } catch (err) {
      if (callback) {
        process.nextTick(() => callback(err as Error, undefined, () => {}))
        return undefined
      }
      return Promise.reject(err)
    }
    if (callback) return inner.pool.connect(callback as never)
    return inner.pool.connect() as Promise<pg.PoolClient & Client>
  }

  // pg's own overloads (@types/pg Pool.query), so results are typed: query<Row>(…). No
  // Submittable: a pooled query has no client to stream on (use connect() and client.query()).
  query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryArrayResult<R>>
  query<R extends pg.QueryResultRow = any, I = any[]>(
    queryConfig: pg.QueryConfig<I>,
  ): Promise<pg.QueryResult<R>>
  query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>>
  query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    callback: (err: Error, result: pg.QueryArrayResult<R>) => void,
  ): void
  query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void
  query<R extends pg.QueryResultRow = any, I = any[]>(
    queryText: string,
    values: pg.QueryConfigValues<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void
  query(config: any, values?: any, callback?: any): any {
    const cb: Callback | undefined = typeof values === 'function' ? values : callback
    const vals: unknown[] | undefined = typeof values === 'function' ? undefined : values
    let settle: Callback = () => {}
    let result: Promise<unknown> | undefined
    if (cb === undefined) {
      result = new Promise((resolve, reject) => {
        settle = (err, res) => (err ? reject(err) : resolve(res))
      })
    }
    const done: Callback = cb ?? settle
    const fail = (err: unknown) =>
      process.nextTick(() => done(err instanceof Error ? err : new Error(String(err))))
    try {
      if (config === null || config === undefined || typeof config === 'function') {
        throw new WardenTypeError('pool.query needs SQL text or a query config')
      }
      if (isSubmittable(config))
        throw new WardenTypeError(
          'pool.query does not take a Submittable (Cursor, QueryStream, COPY); use pool.connect() and client.query()',
        )
      if (this.#ending) throw new Error('Cannot use a pool after calling end on the pool')
      const session = this.#source.current()
      const text = typeof config === 'string' ? config : config.text
      if (typeof text !== 'string')
        throw new WardenTypeError(
          'pool.query needs SQL text (a named statement without text cannot be classified)',
        )
      // The values that run are taken now (see bindValues), before the decision and any approval.
      const holder = { values: vals ?? (config as { values?: unknown[] }).values }
      const bound = bindValues(holder) as unknown[] | undefined
      const described = describePostgres(text, this.#config.describe)
      const go = (facts: SqlFacts) =>
        this.#execute(session, config, bound, text, facts).then((res) => done(null, res), fail)
      if (described instanceof Promise) described.then(go, fail)
      else go(described)
    } catch (err) {
      fail(err)
    }
    return result
  }

  /**
   * Decide (and wait for approval) first; only then take a connection and run on it. Not async:
   * session.execute's promise is the result (an async wrapper adds a promise and two turns).
   */
  #execute(
    session: Session,
    config: unknown,
    values: unknown[] | undefined,
    text: string,
    facts: SqlFacts,
  ): Promise<unknown> {
    const hook = this.#config.preview
    const vals = values
    let dry: DryRun | undefined
    const command: Command = {
      resource: this.#resource,
      action: 'sql.query',
      text,
      sql: facts,
      ...(values !== undefined ? { parameters: values } : {}),
      preview: hook
        ? ({ masker }: PreviewContext) => hook({ text, values: vals, sql: facts, masker })
        : hook === false
          ? undefined
          : async ({ masker }: PreviewContext) => {
              dry = await this.#dryRun(session, facts, vals, masker)
              return dry?.preview
            },
    }
    return session.execute(command, async (context) => {
      const inner = this.#poolFor(session)
      const client = (await inner.pool.connect()) as pg.PoolClient & Client
      let result: unknown
      const query = new PgQuery(config as pg.QueryConfig, values, ((err: Error, res: pg.QueryResult) => {
        result = err ?? res
      }) as never) as unknown as PgSubmittable
      if (typeof config === 'object' && (config as { query_timeout?: unknown }).query_timeout) {
        ;(query as { query_timeout?: unknown }).query_timeout = (
          config as { query_timeout?: unknown }
        ).query_timeout
      }
      // A connection that dies mid-query fails the query; its 'error' event must not go unhandled.
      const onError = () => {}
      client.on('error', onError)
      try {
        await clientHooks.run(client, context, query, text, expectedCounts(dry, context))
      } catch (err) {
        client.removeListener('error', onError)
        client.release(err as Error) // as pg-pool does: a failed query's connection is not reused
        throw err
      }
      client.removeListener('error', onError)
      client.release()
      if (result instanceof Error) throw result
      return result
    })
  }

  /** The built-in preview: a dry run on a pooled connection, returned to the pool before the approval wait. */
  async #dryRun(
    session: Session,
    facts: SqlFacts,
    values: readonly unknown[] | undefined,
    masker: import('@warden/core').Masker | null,
  ): Promise<DryRun | undefined> {
    const plan = planPreview(facts)
    if (!isPlan(plan)) return plan // nothing to run: no connection taken
    let client: pg.PoolClient & Client
    try {
      client = (await this.#poolFor(session).pool.connect()) as pg.PoolClient & Client
    } catch (err) {
      if (err instanceof WardenError) throw err
      throw new WardenError(
        'ERR_WARDEN_PREVIEW_FAILED',
        `the approval preview could not get a connection: ${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      )
    }
    const onError = () => {}
    client.on('error', onError)
    try {
      const result = await clientHooks.dryRun(client, facts, values, masker)
      client.removeListener('error', onError)
      client.release()
      return result
    } catch (err) {
      client.removeListener('error', onError)
      client.release(err as Error)
      throw err
    }
  }

  end(): Promise<void>
  end(callback: () => void): void
  end(callback?: () => void): Promise<void> | undefined {
    this.#ending = true
    const all = Promise.all([...this.#inner.values()].map((i) => i.pool.end())).then(() => undefined)
    if (callback) {
      all.then(callback, callback)
      return undefined
    }
    return all
  }
}

/** Seconds a new connection may live: until its lease nears expiry, and never past the user's own limit. */
function lifetimeSeconds(lease: Lease, userMaxSeconds: number, marginMs: number | undefined): number {
  const remaining = lease.expiresAt.getTime() - Date.now()
  const margin = marginMs ?? Math.min(30_000, remaining / 5)
  const ms = Math.max(1, remaining - margin)
  const seconds = ms / 1000
  return userMaxSeconds > 0 ? Math.min(userMaxSeconds, seconds) : seconds
}
