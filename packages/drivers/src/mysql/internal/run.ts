// One command, end to end: describe the text mysql2 will send, `session.execute`, then queue the
// real mysql2 command with a ticket for exactly that text. Shared by pools and connections.
import type { Command, ExecuteContext, ExecuteOptions, Masker, Session, SessionSource } from '@warden/core'
import type { SqlFacts } from '@warden/policy'
import { WardenError, WardenTypeError } from '@warden/policy'
import { copyValues } from '../../internal/copy-values.js'
import { derivedColumns } from '../../internal/derived-columns.js'
import { describeMysql } from '../describe.js'
import {
  commandOptions,
  type Formatter,
  failCommand,
  type Mysql2Command,
  type Mysql2Connection,
  type Mysql2Statement,
  mysql2Problem,
} from '../mysql2-internals.js'
import { baseTables } from './base-tables.js'
import { type Ticket, withTicket } from './guard.js'
import { modeIfReady, prepareMode, type RunMode, refusalFor, settleMode } from './read-only.js'
import { queryFacts, templatePlan } from './templates.js'
import { txHint } from './tx-hints.js'
import { forgetViews, isDdl, type ViewLineage, viewLineage } from './view-lineage.js'

/** Where commands of one guarded client run. */
export interface Target {
  readonly resource: Command['resource']
  /** Formats text as mysql2 will for this client's config (queryFormat, namedPlaceholders, timezone). */
  readonly formatter: Formatter
  /** The connections run several statements per text: unparsed text could hide a second one. */
  readonly multipleStatements: boolean
  readonly typeCast: unknown
  /**
   * Whose template cache this client's commands use (templates.ts); the target itself when absent.
   * A pooled connection (a new Connection per getConnection) names its physical connection.
   */
  readonly partition?: object
  /** A dedicated connection's `{connection}` (its grant), passed to every execute; absent for a pool. */
  readonly options?: ExecuteOptions
  /** A physical connection for `session`, already checked against its credential; release it after the command. */
  acquire(session: Session): Promise<Lent>
}

export interface Lent {
  readonly conn: Mysql2Connection
  release(): void
  /** After a command that may have changed how the server lexes (`lexer_setting`): never reuse unchecked. */
  retire(): void
}

const after = (facts: SqlFacts, lent: Lent, target: Target) => {
  const done = facts.flags.includes('lexer_setting') ? () => lent.retire() : () => lent.release()
  // After DDL (it may have made a view) the client's view list is read again: not before it ended.
  return isDdl(facts)
    ? () => {
        forgetViews(target)
        done()
      }
    : done
}

export type Result = [unknown, unknown]

const problem = mysql2Problem()

function assertSupported(): void {
  if (problem !== '')
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      `@warden/drivers/mysql: ${problem}; refusing every command`,
    )
}

/**
 * Text we could not fully classify never runs as several statements, whatever the policy says: on
 * connections with `multipleStatements`, any unparsed text is refused (an executable comment or an
 * unterminated string can hide a second statement from the lexer's count too).
 */
/**
 * Unclassified text on a connection that runs several statements: refused by the built-in rule
 * `warden:mysql-multi-statement` (decided and audited by core before policy), never run.
 */
function multiStatementRefusal(facts: SqlFacts, target: Target): { refusal?: Command['refusal'] } {
  if (!facts.parsed && (target.multipleStatements || facts.flags.includes('multi_statement')))
    return {
      refusal: {
        rule: 'warden:mysql-multi-statement',
        reason: 'multi-statement text runs only when every statement is classified',
      },
    }
  return {}
}

function refuseInfile(options: Record<string, unknown> | undefined): void {
  if (options !== undefined && options.infileStreamFactory !== undefined) {
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      'infileStreamFactory (LOAD DATA LOCAL INFILE) is not supported through Warden',
    )
  }
}

const RW_BEGIN = 'START TRANSACTION READ WRITE'
const NO_HINT = Object.freeze({})

/**
 * Puts the lent connection in the access mode the allowed command needs (read-only.ts) and returns
 * how its outcome is handled. A plain BEGIN begins read-write only if the policy would allow this
 * principal `START TRANSACTION READ WRITE` (asked without running or auditing anything).
 */
function enterMode(
  session: Session,
  target: Target,
  lent: Lent,
  facts: SqlFacts,
): Ticket['outcome'] | Promise<Ticket['outcome']> {
  const hint = txHint(facts)
  let asked: boolean | undefined
  const mayWrite = () => {
    // Asked at most once per command (the fast path and prepareMode may both need it).
    if (asked !== undefined) return asked
    const rw = describeMysql(RW_BEGIN)
    if (rw instanceof Promise) {
      asked = false
      return asked
    }
    const command: Command = { resource: target.resource, action: 'sql.query', text: RW_BEGIN, sql: rw }
    asked = session.check(command).effect === 'allow'
    return asked
  }
  const outcome = (mode: RunMode): Ticket['outcome'] => ({
    refuse: refusalFor(facts, mode),
    done: (failed) => settleMode(lent.conn, hint, failed),
  })
  let ready: RunMode | undefined
  try {
    // The common case (the connection is already in the mode): no round trip, no promise.
    ready = modeIfReady(lent.conn, facts.write, hint, mayWrite)
  } catch (err) {
    lent.retire()
    throw err
  }
  if (ready !== undefined) return outcome(ready)
  return prepareMode(lent.conn, facts.write, hint, mayWrite).then(outcome, (err: unknown) => {
    lent.retire() // its mode is unknown now: never reused
    throw err
  })
}

/** The ticket for one allowed command: its exact text, what masking needs, and its outcome handling. */
function ticket(
  text: string,
  ctx: ExecuteContext,
  target: Target,
  facts: SqlFacts,
  outcome: Ticket['outcome'],
  views: ViewLineage | undefined,
): Ticket {
  return {
    outcome,
    text,
    masker: ctx.masker,
    typeCast: target.typeCast,
    derivedFrom: ctx.masker === null ? NO_COLUMNS : (views?.derivedFrom ?? derivedColumns(facts)),
    baseTables: ctx.masker === null ? undefined : (views?.baseTables ?? baseTables(facts)),
  }
}

/**
 * Under masks, what the views the statement reads carry (view-lineage.ts); read before the mode is
 * set. DDL returns no rows and may change the views: the list is dropped, and read again after it.
 */
function viewsOf(
  target: Target,
  lent: Lent,
  ctx: ExecuteContext,
  facts: SqlFacts,
): Promise<ViewLineage | undefined> | undefined {
  if (isDdl(facts)) {
    forgetViews(target)
    return undefined
  }
  return ctx.masker === null ? undefined : viewLineage(target, lent.conn, facts)
}
const NO_COLUMNS: readonly string[] = Object.freeze([])

function countRows(rows: unknown): number {
  if (Array.isArray(rows)) return rows.length
  const affected = (rows as { affectedRows?: unknown } | null)?.affectedRows
  return typeof affected === 'number' ? affected : 0
}

/**
 * Keeps parameter values and masked data out of an error the server or mysql2 raised: `err.sql`
 * becomes the template, values are cut out of the message (syntax errors quote the text).
 */
/**
 * Server errors whose message quotes a value: ER_DUP_ENTRY (1062), ER_TRUNCATED_WRONG_VALUE (1292),
 * ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (1366), WARN_DATA_TRUNCATED (1265), ER_INVALID_JSON_TEXT (3140),
 * ER_WRONG_VALUE (1525), ER_WRONG_VALUE_FOR_TYPE (1411), ER_INVALID_JSON_TEXT_IN_PARAM (3141), and
 * MariaDB's JSON/convert warnings promoted to errors (4036-4040).
 */
const VALUE_ERRORS: ReadonlySet<number> = new Set([
  1062, 1265, 1292, 1366, 1411, 1525, 3140, 3141, 4036, 4037, 4038, 4039, 4040,
])
/** A single-quoted value as the server prints it (an inner quote is doubled or escaped). */
const SINGLE_QUOTED = /'(?:[^'\\]|''|\\.)*'/g

export function scrubError(err: unknown, template: string, values: unknown, masker: Masker | null): void {
  if (typeof err !== 'object' || err === null) return
  const e = err as { sql?: unknown; message?: unknown; sqlMessage?: unknown; stack?: unknown }
  if ('sql' in e) e.sql = template
  const list = Array.isArray(values)
    ? values
    : values !== null && typeof values === 'object'
      ? Object.values(values)
      : []
  // Under masks, errors that quote a row value back (a duplicate key, a failed conversion, bad JSON)
  // lose their quoted text: the value may be a masked column's.
  const quotesValue = masker !== null && VALUE_ERRORS.has((err as { errno?: unknown }).errno as number)
  const scrub = (s: string): string => {
    let out = s
    for (const v of list) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'bigint') continue
      const str = String(v)
      if (str.length >= 3 && out.includes(str)) out = out.split(str).join('?')
    }
    if (quotesValue) out = out.replace(SINGLE_QUOTED, "'[redacted]'")
    return masker !== null ? masker.text(out) : out
  }
  if (typeof e.message === 'string') {
    const before = e.message
    const after = scrub(before)
    if (after !== before) {
      e.message = after
      if (typeof e.stack === 'string') e.stack = e.stack.split(before).join(after)
    }
  }
  if (typeof e.sqlMessage === 'string') e.sqlMessage = scrub(e.sqlMessage)
}

/** Settles with the command's outcome, whichever way mysql2 reports it (callback or events). */
function observe(
  cmd: Mysql2Command,
  ctx: ExecuteContext,
  template: string,
  values: unknown,
  resolve: (r: Result) => void,
  reject: (e: unknown) => void,
): void {
  const user = cmd.onResult
  if (typeof user === 'function') {
    cmd.onResult = (err, rows, fields) => {
      if (err) {
        scrubError(err, template, values, ctx.masker)
        reject(err)
      } else {
        ctx.rows(countRows(rows))
        resolve([rows, fields])
      }
      user(err, rows, fields)
    }
    return
  }
  let failed = false
  cmd.on('result', () => ctx.rows(1))
  cmd.once('error', (err: unknown) => {
    failed = true
    scrubError(err, template, values, ctx.masker)
    reject(err)
  })
  cmd.once('end', () => {
    if (!failed) resolve([undefined, undefined])
  })
}

/** `query()`: `cmd` is a mysql2 Query built but not queued. Settles after the audit record is written. */
export async function runQuery(source: SessionSource, target: Target, cmd: Mysql2Command): Promise<Result> {
  let queued = false
  try {
    assertSupported()
    const session = source.current()
    const template = cmd.sql
    if (typeof template !== 'string') throw new WardenTypeError('query: sql must be a string')
    refuseInfile(commandOptions(cmd))
    // What runs is taken now: mysql2 formats the values in only when the command is queued, after
    // the decision and any approval, and the caller may change them meanwhile.
    if (cmd.values !== undefined) cmd.values = copyValues(cmd.values)
    const resolved = target.formatter.resolveQuery(cmd)
    const text = resolved.text
    const described = queryFacts(target.partition ?? target, target.formatter, resolved, template)
    const facts = described instanceof Promise ? await described : described
    const command: Command = {
      resource: target.resource,
      action: 'sql.query',
      text: template,
      sql: facts,
      ...parametersOf(cmd.values),
      ...noPreview(facts),
      ...multiStatementRefusal(facts, target),
    }
    return await execute(session, target, command, async (ctx) => {
      const lent = await target.acquire(session)
      const viewing = viewsOf(target, lent, ctx, facts) // no await (no tick) without masks
      const views = viewing === undefined ? undefined : await viewing
      const entered = enterMode(session, target, lent, facts)
      const outcome = entered instanceof Promise ? await entered : entered
      return new Promise<Result>((resolve, reject) => {
        observe(cmd, ctx, template, cmd.values, resolve, reject)
        cmd.once('end', after(facts, lent, target))
        queued = true
        withTicket(ticket(text, ctx, target, facts, outcome, views), () => {
          lent.conn.query(cmd)
        })
      })
    })
  } catch (err) {
    if (!queued) failCommand(cmd, err as Error)
    throw err
  }
}

/** `execute()`: prepared statement protocol; parameters travel separately, so the template is the text. */
export async function runExecute(
  source: SessionSource,
  target: Target,
  options: Record<string, unknown>,
): Promise<Result> {
  assertSupported()
  const session = source.current()
  if (typeof options.sql !== 'string') throw new WardenTypeError('execute: sql must be a string')
  refuseInfile(options)
  if (options.values !== undefined) options.values = copyValues(options.values)
  const text = target.formatter.execute(options)
  const planned = templatePlan(target.partition ?? target, text)
  const facts = (planned instanceof Promise ? await planned : planned).facts
  const command: Command = {
    resource: target.resource,
    action: 'sql.query',
    text,
    sql: facts,
    ...parametersOf(options.values),
    ...noPreview(facts),
    ...multiStatementRefusal(facts, target),
  }
  return execute(session, target, command, async (ctx) => {
    const lent = await target.acquire(session)
    const viewing = viewsOf(target, lent, ctx, facts) // no await (no tick) without masks
    const views = viewing === undefined ? undefined : await viewing
    const entered = enterMode(session, target, lent, facts)
    const outcome = entered instanceof Promise ? await entered : entered
    return new Promise<Result>((resolve, reject) => {
      const cb = (failure: Error | null, rows?: unknown, fields?: unknown) => {
        // mysql2 reports a failed implicit prepare here, past the Execute command's own callback.
        const err = failure && (outcome?.refuse(failure) as Error)
        if (err) {
          scrubError(err, text, options.values, ctx.masker)
          reject(err)
        } else {
          ctx.rows(countRows(rows))
          resolve([rows, fields])
        }
      }
      let cmd: Mysql2Command
      try {
        cmd = withTicket(ticket(text, ctx, target, facts, outcome, views), () =>
          lent.conn.execute({ ...options }, cb),
        )
      } catch (err) {
        lent.release() // mysql2 validates bind values synchronously (undefined, functions)
        reject(err)
        return
      }
      cmd.once('end', after(facts, lent, target))
    })
  })
}

/** `stmt.execute(values)` on a statement prepared through the guarded client. */
export async function runPrepared(
  source: SessionSource,
  target: Target,
  stmt: Mysql2Statement,
  values: unknown,
): Promise<Result> {
  assertSupported()
  const session = source.current()
  const text = stmt.query
  const planned = templatePlan(target.partition ?? target, text)
  const facts = (planned instanceof Promise ? await planned : planned).facts
  const command: Command = {
    resource: target.resource,
    action: 'sql.query',
    text,
    sql: facts,
    ...parametersOf(values),
    ...multiStatementRefusal(facts, target),
  }
  return execute(session, target, command, async (ctx) => {
    const lent = await target.acquire(session)
    const viewing = viewsOf(target, lent, ctx, facts) // no await (no tick) without masks
    const views = viewing === undefined ? undefined : await viewing
    const entered = enterMode(session, target, lent, facts)
    const outcome = entered instanceof Promise ? await entered : entered
    return new Promise<Result>((resolve, reject) => {
      try {
        const cmd = withTicket(ticket(text, ctx, target, facts, outcome, views), () =>
          stmt.execute(values ?? [], (err, rows, fields) => {
            if (err) {
              scrubError(err, text, values, ctx.masker)
              reject(err)
            } else {
              ctx.rows(countRows(rows))
              resolve([rows, fields])
            }
          }),
        )
        cmd.once('end', after(facts, lent, target))
      } catch (err) {
        lent.release()
        reject(err)
      }
    })
  })
}

/** `prepare()`: runs nothing, so it is not decided; it still needs a session and leaves a ticket. */
export async function runPrepare(
  source: SessionSource,
  target: Target,
  sql: string,
): Promise<Mysql2Statement> {
  assertSupported()
  const session = source.current()
  if (typeof sql !== 'string') throw new WardenTypeError('prepare: sql must be a string')
  const lent = await target.acquire(session)
  try {
    // The server checks the access mode when it prepares (a write, or a read calling a writing
    // function, is refused read-only): prepare in the mode the text's facts need; nothing runs,
    // and each execute sets the mode again.
    const facts = await describeMysql(sql)
    const mode = await prepareMode(lent.conn, facts.write, NO_HINT, () => false)
    const refuse = refusalFor(facts, mode)
    return await new Promise<Mysql2Statement>((resolve, reject) => {
      withTicket({ text: sql, masker: null, typeCast: undefined }, () =>
        lent.conn.prepare({ sql }, (err, stmt) =>
          err || stmt === undefined ? reject(refuse(err) ?? new Error('prepare failed')) : resolve(stmt),
        ),
      )
    })
  } finally {
    lent.release()
  }
}

/** `session.execute` on the target: a dedicated connection's grant goes with every command. */
function execute<T>(
  session: Session,
  target: Target,
  command: Command,
  run: (context: ExecuteContext) => Promise<T>,
): Promise<T> {
  return session.execute(command, run, target.options)
}

/** Bound values for the approver: positional as given, named ones (`:id`) in key order. */
function parametersOf(values: unknown): { parameters?: readonly unknown[] } {
  if (Array.isArray(values)) return { parameters: values }
  if (values !== null && typeof values === 'object') return { parameters: Object.values(values) }
  return {}
}

/**
 * MariaDB cannot dry-run a write safely the way PostgreSQL can (DDL commits implicitly, MyISAM and
 * sequences ignore rollback), so a held write says so instead of showing nothing.
 */
function noPreview(facts: SqlFacts): { preview?: Command['preview'] } {
  if (!facts.write) return {}
  return {
    preview: async () => ({
      summary:
        'no preview: MariaDB writes are not dry-run (a rollback does not undo DDL, MyISAM tables or sequences); review the statement and its values',
    }),
  }
}
