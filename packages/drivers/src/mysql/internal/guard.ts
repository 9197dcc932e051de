// The tripwire on every physical connection: each Query/Prepare/Execute must carry the ticket the
// guarded client issued for exactly that text, after the pipeline allowed it. Anything else
// (a raw `conn.query`, ChangeUser, BinlogDump, a command mysql2 adds in a future version) fails.
import type { ColumnRef, Masker } from '@warden/core'
import { WardenDeniedError, WardenError } from '@warden/policy'
import {
  commandKind,
  commandOptions,
  failCommand,
  interceptRowParser,
  type Mysql2Command,
  type Mysql2Connection,
  type Mysql2Field,
  preparedText,
  wrapAddCommand,
} from '../mysql2-internals.js'
import { forgetMode } from './read-only.js'

/** Issued by the guarded client for one command, after `session.execute` allowed it. */
export interface Ticket {
  /** The exact text the command must carry (formatted for Query, prepared text for Prepare/Execute). */
  readonly text: string
  readonly masker: Masker | null
  /** The connection-level typeCast function, applied per command when no masks are on. */
  readonly typeCast: unknown
  /** Columns the statement's computed result columns may carry (see internal/derived-columns.ts). */
  readonly derivedFrom?: readonly string[]
  /** The statement's base tables: a column from anything else (a derived table, a CTE) counts as computed. */
  readonly baseTables?: ReadonlySet<string>
  /** Sees the command's outcome: `refuse` may replace a server error, `done` runs once it ended. */
  readonly outcome?: CommandOutcome
}

export interface CommandOutcome {
  refuse(err: unknown): unknown
  done(failed: boolean): void
}

// Protocol plumbing that runs no SQL.
const PLUMBING = new Set(['ClientHandshake', 'Quit', 'Ping', 'CloseStatement', 'ResetConnection'])
const SQL = new Set(['Query', 'Execute', 'Prepare'])

let pending: Ticket | undefined
const guarded = new WeakSet<Mysql2Connection>()

/** Runs `fn` (which must queue its commands synchronously) with `ticket` attached to those commands. */
export function withTicket<T>(ticket: Ticket, fn: () => T): T {
  const previous = pending
  pending = ticket
  try {
    return fn()
  } finally {
    pending = previous
  }
}

export function isGuarded(conn: Mysql2Connection): boolean {
  return guarded.has(conn)
}

/** Installs the tripwire on one physical connection (idempotent). */
export function guardConnection(conn: Mysql2Connection): void {
  if (guarded.has(conn)) return
  guarded.add(conn)
  const shapes = new ShapeMemo()
  wrapAddCommand(conn, (orig) => (cmd) => {
    const kind = commandKind(cmd)
    if (kind === 'ResetConnection') forgetMode(conn) // the session's access mode is the server default again
    if (PLUMBING.has(kind)) return orig(cmd)
    if (!SQL.has(kind)) {
      return failCommand(
        cmd,
        new WardenDeniedError(
          'mysql-driver',
          `mysql ${kind} is not allowed through Warden (it could switch accounts or stream the binlog)`,
        ),
      )
    }
    const ticket = pending
    if (ticket === undefined) {
      return failCommand(
        cmd,
        new WardenError(
          'ERR_WARDEN_UNSUPPORTED',
          `mysql ${kind} did not come through the guarded client; use the connection or pool from @warden/drivers/mysql`,
        ),
      )
    }
    const text = kind === 'Query' ? cmd.sql : preparedText(cmd)
    if (text !== ticket.text) {
      return failCommand(
        cmd,
        new WardenError(
          'ERR_WARDEN_UNSUPPORTED',
          `mysql ${kind}: the text sent differs from the text that was classified; refusing it`,
        ),
      )
    }
    if (kind !== 'Prepare') {
      if (ticket.outcome !== undefined) watchOutcome(cmd, ticket.outcome)
      const options = commandOptions(cmd)
      if (ticket.masker !== null) {
        // A custom typeCast would see values before masking: while masks apply, mysql2 casts.
        if (options !== undefined && typeof options.typeCast === 'function') options.typeCast = true
        installMasking(
          cmd,
          ticket.masker,
          { derivedFrom: ticket.derivedFrom ?? NO_COLUMNS, baseTables: ticket.baseTables },
          shapes,
        )
      } else if (
        options !== undefined &&
        options.typeCast === undefined &&
        typeof ticket.typeCast === 'function'
      ) {
        options.typeCast = ticket.typeCast
      }
    }
    return orig(cmd)
  })
}

/**
 * Routes the command's server error through `outcome.refuse` on every path mysql2 reports it
 * (its callback, or an 'error' event for streams), and reports the end.
 */
function watchOutcome(cmd: Mysql2Command, outcome: CommandOutcome): void {
  let failed = false
  const onResult = cmd.onResult
  if (typeof onResult === 'function') {
    cmd.onResult = (err, rows, fields) => {
      if (err) failed = true
      onResult.call(cmd, err ? (outcome.refuse(err) as Error) : err, rows, fields)
    }
  }
  const emit = cmd.emit
  cmd.emit = function (this: Mysql2Command, event: string, ...args: unknown[]) {
    if (event === 'error') {
      failed = true
      args[0] = outcome.refuse(args[0])
    } else if (event === 'end') outcome.done(failed)
    return emit.call(this, event, ...args)
  }
}

type RowParser = {
  next: (packet: unknown, fields: Mysql2Field[], options: Record<string, unknown>) => unknown
}

const NO_COLUMNS: readonly string[] = Object.freeze([])

/**
 * The last result shape seen on one connection and its column refs. The same array again for the
 * same shape lets the masking engine find its compiled plan by identity (no per-command key string,
 * refs or cache insert); the shape is the fields' provenance, the row layout and the lineage.
 */
class ShapeMemo {
  #fields: { name: string; table: string; orgTable: string; orgName: string; schema: string }[] = []
  #nest: string | undefined = undefined
  #derivedFrom: readonly string[] | undefined = undefined
  #baseTables: ReadonlySet<string> | undefined = undefined
  #refs: readonly ColumnRef[] | undefined = undefined

  refs(fields: readonly Mysql2Field[], nest: string | undefined, lineage: Lineage): readonly ColumnRef[] {
    const last = this.#fields
    if (
      this.#refs !== undefined &&
      last.length === fields.length &&
      nest === this.#nest &&
      lineage.derivedFrom === this.#derivedFrom &&
      lineage.baseTables === this.#baseTables
    ) {
      let same = true
      for (let i = 0; i < fields.length && same; i++) {
        const a = last[i]
        const b = fields[i]
        same =
          a.name === b.name &&
          a.table === b.table &&
          a.orgTable === b.orgTable &&
          a.orgName === b.orgName &&
          a.schema === b.schema
      }
      if (same) return this.#refs
    }
    const refs =
      nest === undefined
        ? fields.map((f) => columnRef(f, f.name, lineage))
        : fields.map((f) => columnRef(f, f.table + nest + f.name, lineage))
    this.#fields = fields.map((f) => ({
      name: f.name,
      table: f.table,
      orgTable: f.orgTable,
      orgName: f.orgName,
      schema: f.schema,
    }))
    this.#nest = nest
    this.#derivedFrom = lineage.derivedFrom
    this.#baseTables = lineage.baseTables
    this.#refs = refs
    return refs
  }
}

/** Masks every row of every result set of `cmd`, whatever shape the options give it. */
function installMasking(cmd: Mysql2Command, masker: Masker, lineage: Lineage, shapes: ShapeMemo): void {
  interceptRowParser(cmd, (parser) => {
    const inner = parser as RowParser
    let lastFields: Mysql2Field[] | undefined
    let apply: (row: unknown) => unknown = identity
    return {
      next(packet: unknown, fields: Mysql2Field[], options: Record<string, unknown>) {
        const row = inner.next(packet, fields, options)
        if (fields !== lastFields) {
          lastFields = fields
          apply = rowMasker(masker, fields, options, lineage, shapes)
        }
        return apply(row)
      },
    }
  })
}

const identity = (row: unknown) => row

/** What a statement's computed columns may carry, and its base tables (see Ticket). */
interface Lineage {
  readonly derivedFrom: readonly string[]
  readonly baseTables?: ReadonlySet<string>
  /** Sees the command's outcome: `refuse` may replace a server error, `done` runs once it ended. */
  readonly outcome?: CommandOutcome
}

export interface CommandOutcome {
  refuse(err: unknown): unknown
  done(failed: boolean): void
}
const NO_LINEAGE: Lineage = { derivedFrom: [] }

/**
 * Column provenance from the field packet: the alias is `name`, the real column is `orgTable.orgName`.
 * A computed column (no `orgTable`), or one whose `orgTable` is a derived table or CTE rather than a
 * base table of the statement, has no table origin: it carries what the output expressions read.
 */
export function columnRef(f: Mysql2Field, name = f.name, lineage: Lineage = NO_LINEAGE): ColumnRef {
  const base =
    f.orgTable !== '' &&
    f.orgTable !== undefined &&
    (lineage.baseTables === undefined || lineage.baseTables.has(f.orgTable.toLowerCase()))
  const table = base ? (f.schema ? `${f.schema}.${f.orgTable}` : f.orgTable) : undefined
  const origin = f.orgName && f.orgName !== name ? f.orgName : undefined
  if (table === undefined && lineage.derivedFrom.length > 0)
    return { name, table, origin, derivedFrom: lineage.derivedFrom }
  return { name, table, origin }
}

function rowMasker(
  masker: Masker,
  fields: Mysql2Field[],
  options: Record<string, unknown>,
  lineage: Lineage,
  shapes: ShapeMemo,
): (row: unknown) => unknown {
  if (options.rowsAsArray) {
    const plan = masker.plan(shapes.refs(fields, undefined, lineage))
    return plan.active ? (row) => plan.applyArray(row as unknown[]) : identity
  }
  const nest = options.nestTables
  if (nest === true) {
    // `{table: {column: value}}`: one plan per table group.
    const groups = new Map<string, Mysql2Field[]>()
    for (const f of fields) {
      const list = groups.get(f.table)
      if (list) list.push(f)
      else groups.set(f.table, [f])
    }
    const plans = [...groups]
      .map(([table, list]) => [table, masker.plan(list.map((f) => columnRef(f, f.name, lineage)))] as const)
      .filter(([, p]) => p.active)
    if (plans.length === 0) return identity
    return (row) => {
      const r = row as Record<string, Record<string, unknown>>
      for (const [table, plan] of plans) if (r[table]) plan.applyObject(r[table])
      return row
    }
  }
  const plan = masker.plan(shapes.refs(fields, typeof nest === 'string' ? nest : undefined, lineage))
  return plan.active ? (row) => plan.applyObject(row as Record<string, unknown>) : identity
}
