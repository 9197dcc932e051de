// The guarded pg Client: every query shape is described, then run through session.execute, then
// handed to pg. Credentials come from session.lease() per physical connection.

import type {
  ApprovalPreview,
  Command,
  ConnectionGrant,
  ExecuteContext,
  Lease,
  Masker,
  PreviewContext,
  Session,
  SessionSource,
} from '@warden/core'
import { revealSecret } from '@warden/core'
import type { SqlFacts } from '@warden/policy'
import { WardenDeniedError, WardenError, WardenTypeError } from '@warden/policy'
import { parseSync, scanSync } from 'libpg-query'
import type pg from 'pg'
import { ANY_ROW, derivedColumns } from '../internal/derived-columns.js'
import {
  checkDescribeOptions,
  type DescribePostgresOptions,
  describePostgres,
  loadPostgresParser,
} from './describe.js'
import { bindValues } from './internal/bind-values.js'
import {
  buildCatalog,
  CATALOG_SQL,
  type CatalogRow,
  VIEW_READS_SQL,
  type ViewReadRow,
} from './internal/catalog.js'
import { type CopyFormat, copyMasker } from './internal/copy-masker.js'
import { type ModePlan, ReadOnlyMode, readOnlyUnreported } from './internal/read-only-mode.js'
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
import {
  closeGuard,
  type DryRun,
  dryRun,
  isPlan,
  mismatch,
  openGuard,
  type PreviewChannel,
  planPreview,
  type SampleResult,
} from './preview.js'

/** Computes an approval preview ("approve the effect") for a query held for approval (replaces the built-in dry run). */
export type PgPreviewHook = (query: {
  readonly text: string
  readonly values: readonly unknown[] | undefined
  readonly sql: SqlFacts
  /** The decision's masks, for any data the preview shows (null when there are none). */
  readonly masker: Masker | null
}) => Promise<ApprovalPreview | undefined>

/** pg's ClientConfig plus the resource policies match on. Credentials come from the broker, never from here. */
export interface ClientConfig extends Omit<pg.ClientConfig, 'password' | 'user'> {
  /** Resource name (policies match `postgres:<resource>`). */
  readonly resource: string
  readonly labels?: Readonly<Record<string, string>>
  /** Lease scope passed to the broker (default ''). */
  readonly scope?: string
  /**
   * The approval preview of commands a rule holds for approval. Default: the built-in dry run
   * (rows affected and a masked sample from a rolled-back transaction, and a row-count guard on
   * the approved run); `false` turns previews off; a function replaces the built-in one.
   */
  readonly preview?: PgPreviewHook | false
  /**
   * Limits of the SQL describer for this client's queries (`maxLength`, default 262144 characters;
   * `maxDepth`, default 1000 nodes). Longer or deeper text is `parsed: false`.
   */
  readonly describe?: DescribePostgresOptions
}

/** Pool hooks into a pooled client (internal). */
export interface ClientBinding {
  /** The session whose lease a new physical connection takes. */
  session(): Session
  /** Called synchronously right before the connect callback, with the connection's lease. */
  connected(lease: Lease): void
}

type Callback = (error: Error | null, result?: unknown) => void

let bindClient: (client: Client, binding: ClientBinding) => void
let runApproved: (
  client: Client,
  context: ExecuteContext,
  query: PgSubmittable,
  text: string,
  expected: readonly number[] | undefined,
) => Promise<number>
let dryRunOn: (
  client: Client,
  facts: SqlFacts,
  values: readonly unknown[] | undefined,
  masker: Masker | null,
) => Promise<DryRun | undefined>

/** Internal: what Pool uses to bind its clients and run already-decided commands on them. */
export const clientHooks = {
  bind: (client: Client, binding: ClientBinding) => bindClient(client, binding),
  run: (
    client: Client,
    context: ExecuteContext,
    query: PgSubmittable,
    text: string,
    expected?: readonly number[],
  ) => runApproved(client, context, query, text, expected),
  dryRun: (client: Client, facts: SqlFacts, values: readonly unknown[] | undefined, masker: Masker | null) =>
    dryRunOn(client, facts, values, masker),
}

/** Text results for preview samples: every value as the server printed it (JSON-safe, already masked). */
const TEXT_TYPES = { getTypeParser: () => (value: string) => value }

/**
 * The row counts an approved run must match: only when the built-in dry run produced numbers and
 * the approval released exactly that preview (the one the approver saw).
 */
export function expectedCounts(
  dry: DryRun | undefined,
  context: ExecuteContext,
): readonly number[] | undefined {
  if (dry?.rowsAffected === undefined) return undefined
  return context.approval?.preview === dry.preview ? dry.rowsAffected : undefined
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
  readonly #preview: PgPreviewHook | false | undefined
  readonly #describe: DescribePostgresOptions | undefined
  /** Transaction status from the last ReadyForQuery ('I', 'T', 'E'). */
  #txStatus: string | undefined
  readonly #internals: PgClientInternals
  readonly #guard: WireGuard
  #binding: ClientBinding | undefined
  #busy = false
  readonly #waiting: (() => void)[] = []
  #leaseExpiresAt: Date | undefined
  /** The lease this connection logged in with, bound to the principal that connected it. */
  #grant: ConnectionGrant | undefined
  readonly #mode: ReadOnlyMode
  /** One command on the wire at a time (with its mode changes): whether a turn is taken, who waits. */
  #turnTaken = false
  readonly #turnQueue: (() => void)[] = []
  /** Resolved at the next ReadyForQuery (or when the connection ends). */
  #idleWaiters: (() => void)[] = []
  #ended = false
  /** Turns a server error of the command on the wire into what its caller sees (read-only refusals). */
  #refuse: (err: Error) => Error = (err) => err

  static {
    bindClient = (client, binding) => {
      client.#binding = binding
    }
    runApproved = (client, context, query, text, expected) =>
      client.#run(
        query,
        text,
        context,
        () => {},
        () => {},
        undefined,
        expected,
      )
    dryRunOn = (client, facts, values, masker) => client.#dryRun(facts, values, masker)
  }

  constructor(source: SessionSource, config: ClientConfig) {
    if (typeof (source as SessionSource | undefined)?.current !== 'function') {
      throw new WardenTypeError(
        'Client: the first argument must be a Warden session or the Warden (something with current())',
      )
    }
    if (typeof config !== 'object' || config === null)
      throw new WardenTypeError('Client: config must be an object with "resource"')
    if (typeof config.resource !== 'string' || config.resource === '')
      throw new WardenTypeError(
        'Client: config.resource must name the database (policies match postgres:<resource>)',
      )
    if ('password' in config && (config as { password?: unknown }).password !== undefined) {
      throw new WardenTypeError(
        'Client: "password" is not accepted; credentials come from the broker (createWarden({broker}))',
      )
    }
    if (config.preview !== undefined && config.preview !== false && typeof config.preview !== 'function')
      throw new WardenTypeError('Client: "preview" must be false or a function')
    if ((config as { pipeline?: unknown }).pipeline)
      throw new WardenTypeError(
        'Client: "pipeline" is not supported: each command runs in the read-only or read-write mode its facts need, one at a time',
      )
    checkDescribeOptions('Client', config.describe)
    checkVersions()
    const { resource, labels, scope, preview, describe, ...rest } = config
    super({ ...(rest as pg.ClientConfig), password: undefined })
    this.#source = source
    this.#resource = Object.freeze({
      kind: 'postgres' as const,
      name: resource,
      labels: labels ? Object.freeze({ ...labels }) : undefined,
    })
    this.#scope = scope ?? ''
    this.#preview = preview
    this.#describe = describe === undefined ? undefined : Object.freeze({ ...describe })
    this.#internals = clientInternals(this)
    // A password from a connection string or PGPASSWORD never reaches the server: the lease's does.
    this.#internals.password = null
    this.#internals.connectionParameters.password = null
    this.#guard = new WireGuard(this.#internals)
    // Registered before pg's own listener (pg attaches on connect): current when a query settles.
    this.#internals.connection.on('readyForQuery', (message: { status?: string }) => {
      this.#txStatus = message?.status
      this.#wakeIdle()
    })
    this.#internals.connection.on('end', () => {
      this.#ended = true
      this.#wakeIdle()
    })
    this.#mode = new ReadOnlyMode({
      status: () => this.#txStatus,
      sessionReadOnly: () => this.#guard.readOnlyDefault,
      control: (text) => this.#internalQuery(text),
    })
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
    // The connection belongs to this session's principal: core refuses anyone else's commands on it.
    const grant = await session.connect(this.#resource, { scope: this.#scope, credentialType: 'password' })
    const lease = grant.lease
    const credential = lease.credential
    if (credential.type !== 'password')
      throw new WardenError('ERR_WARDEN_BROKER', 'not a password credential')
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
    // Reads are kept read-only by the server's default_transaction_read_only: it must be reported.
    if (this.#guard.readOnlyDefault === undefined) {
      await this.end().catch(() => {})
      throw readOnlyUnreported()
    }
    this.#leaseExpiresAt = lease.expiresAt
    this.#grant = grant
    return lease
  }

  // pg's own overloads (@types/pg ClientBase.query), so results are typed: query<Row>(…).
  override query<T extends pg.Submittable>(queryStream: T): T
  override query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryArrayResult<R>>
  override query<R extends pg.QueryResultRow = any, I = any>(
    queryConfig: pg.QueryConfig<I>,
  ): Promise<pg.QueryResult<R>>
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>>
  override query<R extends any[] = any[], I = any[]>(
    queryConfig: pg.QueryArrayConfig<I>,
    callback: (err: Error, result: pg.QueryArrayResult<R>) => void,
  ): void
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | pg.QueryConfig<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void
  override query<R extends pg.QueryResultRow = any, I = any[]>(
    queryText: string,
    values: pg.QueryConfigValues<I>,
    callback: (err: Error, result: pg.QueryResult<R>) => void,
  ): void
  // One implementation for pg's seven call shapes and every Submittable.
  override query(config: any, values?: any, callback?: any): any {
    if (config === null || config === undefined)
      throw new WardenTypeError('Client was passed a null or undefined query')
    const cb: Callback | undefined = typeof values === 'function' ? values : callback
    const vals: unknown[] | undefined = typeof values === 'function' ? undefined : values
    if (cb !== undefined && typeof cb !== 'function') throw new WardenTypeError('callback is not a function')
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
    // The values that run are taken now, as pg will send them: a caller changing its array (or an
    // object in it) while the command waits for a decision or an approval changes nothing.
    let bound: readonly unknown[] | undefined
    let unbindable: unknown
    try {
      bound = bindValues(query as { values?: unknown })
    } catch (err) {
      unbindable = err
    }
    const start = () =>
      unbindable !== undefined ? this.#refuseNow(query, done, unbindable) : this.#start(query, bound, done)
    if (this.#busy) this.#waiting.push(start)
    else start()
    return result
  }

  /** A query that failed before it was described (its values could not be prepared). */
  #refuseNow(query: PgSubmittable, done: ((err: unknown) => void) | undefined, err: unknown): void {
    if (done !== undefined) done(err)
    else deliver(query, err, this.#internals)
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
    // A Submittable (cursor, QueryStream, COPY TO) ends on its own: its end is held (see
    // #holdEnd) and released once the outcome record is stored, or replaced by the error that
    // says it could not be (ERR_WARDEN_RAN_UNRECORDED), never swallowed.
    const held = done === undefined ? holdEnd(query) : undefined
    const fail = (err: unknown) => {
      release()
      if (done !== undefined) done(err)
      else if (!submitted) deliver(query, err, this.#internals)
      // A server error already reached the query through pg; only a lost record is news to it.
      else if ((err as { code?: unknown } | null)?.code === 'ERR_WARDEN_RAN_UNRECORDED') held?.fail(err)
      else held?.release()
    }
    const succeed = () => {
      release()
      done?.(null)
      held?.release()
    }
    try {
      const session = this.#source.current()
      const text = this.#textOf(query)
      // What the driver cannot trust is decided by core as a built-in rule (audited as denied), not thrown here.
      const refusal: Command['refusal'] =
        this.#guard.unsafe !== ''
          ? { rule: 'warden:lexer', reason: this.#guard.unsafe }
          : text === undefined
            ? { rule: 'warden:describe', reason: 'the query has no SQL text Warden can classify' }
            : undefined
      if (refusal !== undefined || text === undefined) {
        const refused: Command = { resource: this.#resource, action: 'sql.query', text: text ?? '', refusal }
        session
          .execute(
            refused,
            () => {
              throw new WardenError('ERR_WARDEN_DENIED', 'refused by the driver') // core denies before running
            },
            connectionOf(this.#grant),
          )
          .then(succeed, fail)
        return
      }
      const described = describePostgres(text, this.#describe)
      const go = (facts: SqlFacts) => {
        const hook = this.#preview
        let dry: DryRun | undefined
        // The built-in dry run needs a query whose outcome the driver settles (not a Submittable).
        const builtIn =
          hook === undefined && done !== undefined
            ? async ({ masker }: PreviewContext) => {
                dry = await this.#dryRun(facts, values, masker)
                return dry?.preview
              }
            : undefined
        const command: Command = {
          resource: this.#resource,
          action: 'sql.query',
          text,
          sql: facts,
          ...(values !== undefined ? { parameters: values } : {}),
          preview: hook
            ? ({ masker }: PreviewContext) => hook({ text, values, sql: facts, masker })
            : builtIn,
        }
        session
          .execute(
            command,
            (context) =>
              this.#run(
                query,
                text,
                context,
                () => {
                  submitted = true
                },
                release,
                facts,
                expectedCounts(dry, context),
              ),
            connectionOf(this.#grant),
          )
          .then(succeed, fail)
      }
      if (described instanceof Promise) described.then(go, fail)
      else go(described)
    } catch (err) {
      fail(err)
    }
  }

  #textOf(query: PgSubmittable): string | undefined {
    const text = submittableText(query)
    if (text !== undefined) return text
    // A named statement re-run without its text: the text this connection prepared under that name.
    if (typeof query.name === 'string') {
      const prepared = this.#internals.connection.parsedStatements?.[query.name]
      if (typeof prepared === 'string') return prepared
    }
    return undefined
  }

  /**
   * Runs an approved command: set up masking, submit to pg, settle when pg is done with it. With
   * `expected` (the row counts of the preview the approver saw) it runs in a transaction (a
   * savepoint inside the caller's) that commits only when the counts match.
   */
  async #run(
    query: PgSubmittable,
    text: string,
    context: ExecuteContext,
    submitted: () => void,
    release: () => void,
    facts: SqlFacts | undefined,
    expected?: readonly number[],
  ): Promise<number> {
    const turn = this.#takeTurn()
    const done = typeof turn === 'function' ? turn : await turn
    let plan: ModePlan | undefined
    let sql: SqlFacts | undefined
    try {
      sql = facts ?? (await describePostgres(text, this.#describe))
      if (expected === undefined) {
        const prepared = this.#mode.prepare(sql)
        plan = prepared instanceof Promise ? await prepared : prepared
        const current = plan
        this.#refuse = (err) => this.#mode.refusal(current, err)
      } else this.#refuse = (err) => err
      const rows = await this.#runNow(query, text, context, submitted, release, sql, expected)
      if (plan !== undefined) {
        const finished = this.#mode.finish(plan, sql, true)
        if (finished !== undefined) await finished
      } else this.#mode.wrote()
      done()
      return rows
    } catch (err) {
      // The turn ends once the server is ready again: the next command must see the real state.
      const finished = plan
      const described = sql
      this.#whenIdle()
        .then(() =>
          finished === undefined || described === undefined
            ? this.#mode.wrote()
            : this.#mode.finish(finished, described, false),
        )
        .catch(() => {})
        .finally(done)
      throw err instanceof Error ? this.#mode.refusal(plan, err) : err
    }
  }

  /** This command's turn (at once when none is taken, else after the ones before it); returns its end. */
  #takeTurn(): (() => void) | Promise<() => void> {
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      const next = this.#turnQueue.shift()
      if (next !== undefined) next()
      else this.#turnTaken = false
    }
    if (!this.#turnTaken) {
      this.#turnTaken = true
      return end
    }
    return new Promise((resolve) => this.#turnQueue.push(() => resolve(end)))
  }

  /** Resolves when nothing is running on the wire. */
  #whenIdle(): Promise<void> {
    if (this.#ended || this.#internals.readyForQuery === true) return Promise.resolve()
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const wake of waiters) wake()
  }

  async #runNow(
    query: PgSubmittable,
    text: string,
    context: ExecuteContext,
    submitted: () => void,
    release: () => void,
    facts: SqlFacts,
    expected: readonly number[] | undefined,
  ): Promise<number> {
    const masker = context.masker
    let sql: SqlFacts | undefined
    if (masker !== null) {
      if (query.binary === true || (this as unknown as { binary?: boolean }).binary === true) {
        throw new WardenError(
          'ERR_WARDEN_UNSUPPORTED',
          'binary results cannot be masked; run this query without binary: true',
        )
      }
      if (!this.#guard.catalogLoaded || this.#guard.catalogStale) await this.#loadCatalog()
      sql = facts
      if (sql.types.includes('COPY')) await this.#maskCopy(query, text, sql, masker)
    }
    const derived = sql === undefined ? undefined : derivedColumns(sql)
    if (expected === undefined)
      return (await this.#submit(query, text, context, submitted, release, true, derived)).rows
    // Queries behind this one wait (no release) until the guard's transaction has ended.
    const channel = this.#channel()
    const nested = await openGuard(channel)
    let state: QueryState
    try {
      state = await this.#submit(query, text, context, submitted, () => {}, false, derived)
    } catch (err) {
      await this.#abortGuard(channel, nested)
      throw err
    }
    const wrong = mismatch(expected, state.counts)
    if (wrong !== undefined) {
      await this.#abortGuard(channel, nested)
      throw wrong
    }
    try {
      await closeGuard(channel, nested, true)
    } catch (err) {
      throw err instanceof Error ? scrubError(err, masker) : err
    }
    context.rows(state.rows)
    return state.rows
  }

  /** Rolls the guard back; a connection that cannot roll back is dropped (the server then does). */
  async #abortGuard(channel: PreviewChannel, nested: boolean): Promise<void> {
    try {
      await closeGuard(channel, nested, false)
    } catch {
      this.#internals.connection.stream.destroy()
    }
  }

  #submit(
    query: PgSubmittable,
    text: string,
    context: ExecuteContext,
    submitted: () => void,
    release: () => void,
    report: boolean,
    /** What the statement's computed columns may carry (`derivedColumns` of its facts), under masks. */
    derived: readonly string[] | undefined,
  ): Promise<QueryState> {
    const masker = context.masker
    const state = new QueryState(masker, derived)
    const guard = this.#guard
    const internals = this.#internals
    const refuse = this.#refuse
    return new Promise<QueryState>((resolve, reject) => {
      const handleError = query.handleError
      const handleReady = query.handleReadyForQuery
      let finished = false
      const finish = () => {
        if (finished) return false
        finished = true
        guard.done(text)
        guard.untrack(state)
        if (report) context.rows(state.rows)
        return true
      }
      query.handleError = function (this: PgSubmittable, err: Error, con?: unknown) {
        const scrubbed = refuse(scrubError(err, masker, (query as { values?: unknown }).values))
        if (finish()) reject(scrubbed)
        return handleError.call(this, scrubbed, con as never)
      }
      query.handleReadyForQuery = function (this: PgSubmittable, con?: unknown) {
        if (finish()) resolve(state)
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

  /** The built-in approval preview: a dry run on this connection (see preview.ts). */
  async #dryRun(
    facts: SqlFacts,
    values: readonly unknown[] | undefined,
    masker: Masker | null,
  ): Promise<DryRun | undefined> {
    const plan = planPreview(facts)
    if (!isPlan(plan)) return plan
    try {
      // Provenance for masking the sample; without it nothing is sampled.
      if (masker !== null && (!this.#guard.catalogLoaded || this.#guard.catalogStale))
        await this.#loadCatalog()
    } catch (err) {
      throw new WardenError(
        'ERR_WARDEN_PREVIEW_FAILED',
        `the approval preview could not read the table catalog: ${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      )
    }
    const turn = this.#takeTurn()
    const done = typeof turn === 'function' ? turn : await turn
    try {
      return await dryRun(this.#channel(), plan, values, masker)
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_WARDEN_PREVIEW_FAILED')
        this.#internals.connection.stream.destroy()
      throw err
    } finally {
      this.#whenIdle().finally(done)
    }
  }

  /** What preview.ts talks through: transaction status, internal control queries, masked samples. */
  #channel(): PreviewChannel {
    return {
      status: () => this.#txStatus,
      control: (text, values) => this.#internalQuery(text, values),
      sample: (text, values, masker, limit) => this.#sample(text, values, masker, limit),
    }
  }

  /** Runs a dry-run statement: rows pass the wire masking like any result; only the first `limit` are kept. */
  #sample(
    text: string,
    values: readonly unknown[] | undefined,
    masker: Masker | null,
    limit: number,
  ): Promise<SampleResult> {
    const guard = this.#guard
    const state = new QueryState(masker, masker === null ? undefined : derivedOf(text, this.#describe))
    const query = new PgQuery({
      text,
      values: values as unknown[] | undefined,
      rowMode: 'array',
      types: TEXT_TYPES,
    } as pg.QueryConfig)
    const rows: { statement: number; columns: string[]; values: unknown[] }[] = []
    // A 'row' listener keeps pg from accumulating rows: a large RETURNING streams through.
    query.on('row', (row: unknown[], result?: { fields: { name: string }[] }) => {
      if (rows.length < limit)
        rows.push({
          statement: state.counts.length,
          columns: (result?.fields ?? []).map((f) => f.name),
          values: row,
        })
    })
    return new Promise<SampleResult>((resolve, reject) => {
      let finished = false
      const finish = () => {
        if (finished) return false
        finished = true
        guard.done(text)
        guard.untrack(state)
        return true
      }
      query.on('end', () => {
        if (finish()) resolve({ counts: [...state.counts], rows })
      })
      query.on('error', (err: Error) => {
        if (finish()) reject(scrubError(err, masker, values))
      })
      guard.track(query, state)
      guard.approve(text)
      try {
        super.query(query as never)
      } catch (err) {
        if (finish()) reject(err)
      }
    })
  }

  /** Reads table OIDs, column names and what views read, once per connection (again after a table appears). */
  async #loadCatalog(): Promise<void> {
    const tables = (await this.#internalQuery(CATALOG_SQL)) as pg.QueryResult<CatalogRow>
    const views = (await this.#internalQuery(VIEW_READS_SQL)) as pg.QueryResult<ViewReadRow>
    const catalog = this.#guard.catalog
    catalog.clear()
    for (const [oid, info] of buildCatalog(tables.rows, views.rows)) catalog.set(oid, info)
    this.#guard.catalogLoaded = true
    this.#guard.catalogStale = false
  }

  /** Metadata and transaction-control queries the driver itself needs (not user commands): approved for the tripwire, not audited. */
  #internalQuery(text: string, values?: readonly unknown[]): Promise<pg.QueryResult> {
    const guard = this.#guard
    guard.approve(text)
    return new Promise<pg.QueryResult>((resolve, reject) => {
      const query = new PgQuery(
        text,
        values as unknown[] | undefined,
        ((err: Error, res: pg.QueryResult) => {
          guard.done(text)
          if (err) reject(err)
          else resolve(res)
        }) as never,
      )
      super.query(query)
    })
  }

  /** COPY ... TO STDOUT under masks: mask the stream's rows, or refuse when they cannot be. */
  async #maskCopy(query: PgSubmittable, text: string, facts: SqlFacts, masker: Masker): Promise<void> {
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
    if (relation === undefined) {
      // COPY (query): its columns are read by a zero-row probe of the query, which must not run
      // anything that writes (a data-modifying CTE runs even when no row is fetched).
      const readOnly =
        facts.parsed &&
        facts.writes.length === 0 &&
        facts.types.every((t) => t === 'COPY' || t === 'SELECT') &&
        Object.keys(copy.query ?? {})[0] === 'SelectStmt'
      if (!readOnly)
        return refuse(
          'COPY (INSERT/UPDATE/DELETE … RETURNING, or a query with a writing CTE) TO STDOUT cannot be masked; run the statement itself',
        )
    }
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
    // The output columns, with their table provenance, from a zero-row SELECT of the same columns
    // (of the table, or of the query: LIMIT 0 fetches nothing, so the query's rows are never made).
    let probeText: string
    if (relation === undefined) {
      probeText = `SELECT * FROM (${copyQueryText(text)}) AS warden_copy_probe LIMIT 0`
    } else {
      const attlist = ((copy.attlist as { String: { sval: string } }[] | undefined) ?? []).map((a) =>
        escapeIdentifier(a.String.sval),
      )
      const table = relation.schemaname
        ? `${escapeIdentifier(relation.schemaname)}.${escapeIdentifier(relation.relname)}`
        : escapeIdentifier(relation.relname)
      probeText = `SELECT ${attlist.length > 0 ? attlist.join(', ') : '*'} FROM ${table} LIMIT 0`
    }
    const probe = await this.#internalQuery(probeText)
    const derived = derivedColumns(facts)
    const columns = probe.fields.map((f) => this.#guard.column(f as never, derived))
    const mask = copyMasker(masker.plan(columns), format, header)
    const push = (query.push as (chunk: unknown) => boolean).bind(query)
    query.push = (chunk: unknown) => {
      let ok = true
      for (const out of mask(chunk === null ? null : (chunk as Buffer))) ok = push(out)
      return chunk === null ? push(null) : ok
    }
  }
}

/**
 * Holds the end of a Submittable that ran until its outcome record is stored: pg-cursor and
 * pg-query-stream end (rows sent, 'end', an empty read) in handleReadyForQuery, pg-copy-streams'
 * COPY TO with push(null). pg itself has moved on by then (its queue does not wait for these), so
 * holding them delays only what the application sees. `fail` errors the query instead.
 */
function holdEnd(query: PgSubmittable): { release(): void; fail(err: unknown): void } {
  let ended = false
  let held: (() => void) | undefined
  const q = query as PgSubmittable & {
    push?: (chunk: unknown) => boolean
    emit?: (e: string, a: unknown) => boolean
  }
  const ready = query.handleReadyForQuery
  query.handleReadyForQuery = function (this: PgSubmittable, con?: unknown) {
    if (ended) return ready.call(this, con as never)
    const previous = held
    held = () => {
      previous?.()
      ready.call(this, con as never)
    }
  }
  const push = q.push
  if (typeof push === 'function') {
    q.push = function (this: unknown, chunk: unknown) {
      if (chunk !== null || ended) return push.call(this, chunk)
      const previous = held
      held = () => {
        previous?.()
        push.call(this, null)
      }
      return false
    }
  }
  return {
    release() {
      ended = true
      const run = held
      held = undefined
      run?.()
    },
    fail(err) {
      ended = true
      held = undefined
      const error = err instanceof Error ? err : new Error(String(err))
      // A stream (QueryStream, COPY TO) errors; a cursor hands it to its pending reads.
      if (typeof (q as { destroy?: unknown }).destroy === 'function')
        (q as unknown as { destroy(e: Error): void }).destroy(error)
      else {
        // pg-cursor's handleError also sends a Sync to end the portal: the server is past that
        // (its ReadyForQuery came), so the Sync is left out for this one call.
        const cursor = q as unknown as {
          connection?: { removeListener: (...args: never[]) => unknown; sync: () => void }
        }
        const real = cursor.connection
        if (real !== undefined)
          cursor.connection = { removeListener: real.removeListener.bind(real), sync: () => {} }
        try {
          query.handleError(error, undefined as never)
        } finally {
          if (real !== undefined) cursor.connection = real
        }
      }
    },
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

/** The text of the query inside `COPY (query) TO …`, found with PostgreSQL's own lexer. */
function copyQueryText(text: string): string {
  const tokens = scanSync(text).tokens
  const bytes = Buffer.from(text, 'utf8')
  let depth = 0
  let start = -1
  for (const token of tokens) {
    if (token.text === '(') {
      if (depth++ === 0 && start < 0) start = token.end
    } else if (token.text === ')' && --depth === 0 && start >= 0) {
      // Token offsets are byte offsets into the UTF-8 text.
      return bytes.subarray(start, token.start).toString('utf8')
    }
  }
  throw new WardenError(
    'ERR_WARDEN_UNSUPPORTED',
    'COPY output under masking: cannot find the query of COPY (query)',
  )
}

/** What a preview sample's computed columns may carry (its text was described; before the parser loaded: anything). */
function derivedOf(text: string, options: DescribePostgresOptions | undefined): readonly string[] {
  const facts = describePostgres(text, options)
  return facts instanceof Promise ? ANY_ROW : derivedColumns(facts)
}

/** Execute options for a command on a connected Client: its connection (owner checked, lease recorded). */
function connectionOf(grant: ConnectionGrant | undefined): { connection: ConnectionGrant } | undefined {
  return grant === undefined ? undefined : { connection: grant }
}
